-- Indexes for preflight of members with years of history (measured with `hiatus generate
-- --profile l`: 2,000 contracts, 8,000 payments). Preflight asks about the few open items of
-- a member; these let it find them without walking everything the member ever did.

-- For every client of a freelancer: how many contracts, how many live, when the last one
-- ended. With those columns in the index the answer comes from the index alone, already in
-- client order (sorting thousands of client ids under the database collation cost more than
-- reading them). SQLite gets a different index for the same question: see its migration.
CREATE INDEX contracts_freelancer_client ON contracts(freelancer_id, client_id, status, ended_at, created_at);

-- Live contracts are few; PostgreSQL's generic plan for "freelancer or client, not ended"
-- otherwise visits every contract of the member.
CREATE INDEX contracts_freelancer_live ON contracts(freelancer_id) WHERE status <> 'ended';
CREATE INDEX contracts_client_live ON contracts(client_id) WHERE status <> 'ended';

-- Unsettled payments are few too. PostgreSQL's generic plan for the (payer_id, status) and
-- (payee_id, status) indexes seeks the member only and filters thousands of settled payments.
CREATE INDEX payments_payer_unsettled ON payments(payer_id, created_at) WHERE status IN ('in_escrow', 'pending_release');
CREATE INDEX payments_payee_unsettled ON payments(payee_id, created_at) WHERE status IN ('in_escrow', 'pending_release');

-- Open proposals a member sent; without this, every proposal is scanned.
CREATE INDEX proposals_sender ON proposals(sender_id, status);
