-- Indexes for preflight of members with years of history (measured with `hiatus generate
-- --profile l`: 2,000 contracts, 8,000 payments). Preflight asks about the few open items of
-- a member; these let it find them without walking everything the member ever did.
-- (PostgreSQL also gets partial indexes on live contracts and unsettled payments for its
-- generic plans; SQLite's planner does not use them for these queries.)

-- For every client of a freelancer: how many contracts, how many live, when the last one
-- ended. With those columns in contracts_freelancer the answer comes from the index alone.
-- The old (freelancer_id, status) prefix stays, and created_at follows it: entries then come
-- in roughly the order rows were written, which keeps the lookups of the other preflight
-- queries sequential. (PostgreSQL gets a second, client-ordered index instead; SQLite, which
-- has no statistics to choose by, then used it for those other queries too and read the
-- contracts in client order, three times slower.)
DROP INDEX contracts_freelancer;
CREATE INDEX contracts_freelancer ON contracts(freelancer_id, status, created_at, client_id, ended_at);

-- Open proposals a member sent; without this, every proposal is scanned.
CREATE INDEX proposals_sender ON proposals(sender_id, status);
