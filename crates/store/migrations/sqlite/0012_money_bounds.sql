-- Money columns hold integers within the bounds of hiatus_domain::money: an amount is
-- 0..=10^12 minor units, a balance 0..=10^15. Without these checks SQLite stores whatever it
-- is given, and turns an integer sum that overflows 64 bits into a floating-point value; a
-- balance of 1.84e19 then broke every page that reads it. SQLite adds CHECK constraints only
-- by rebuilding a table, so each table is copied into a new one with the constraints, under
-- the same name, with the same indexes. A database that already holds an out-of-range or
-- non-integer amount fails this migration: repair that row by hand first (it can only come
-- from the overflow this closes).
--
-- Foreign keys stay on (the migration runs in one transaction, where the pragma cannot change),
-- so a parent is rebuilt only while nothing refers to it: dropping a table deletes its rows
-- first, which would cascade to invoice_pdfs or be refused for milestones under payments.
-- The children are set aside in plain copies and restored afterwards.

CREATE TABLE payments_keep AS SELECT * FROM payments;
DROP TABLE payments;
CREATE TABLE invoice_pdfs_keep AS SELECT * FROM invoice_pdfs;
DROP TABLE invoice_pdfs;

CREATE TABLE milestones_new (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    title TEXT NOT NULL,
    amount_minor INTEGER NOT NULL
        CHECK (typeof(amount_minor) = 'integer' AND amount_minor BETWEEN 0 AND 1000000000000),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO milestones_new (id, contract_id, title, amount_minor, currency, status, created_at)
    SELECT id, contract_id, title, amount_minor, currency, status, created_at FROM milestones;
DROP TABLE milestones;
ALTER TABLE milestones_new RENAME TO milestones;
CREATE INDEX milestones_contract ON milestones(contract_id);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    milestone_id TEXT REFERENCES milestones(id),
    payer_id TEXT NOT NULL REFERENCES accounts(id),
    payee_id TEXT NOT NULL REFERENCES accounts(id),
    amount_minor INTEGER NOT NULL
        CHECK (typeof(amount_minor) = 'integer' AND amount_minor BETWEEN 0 AND 1000000000000),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO payments (id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at)
    SELECT id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at FROM payments_keep;
DROP TABLE payments_keep;
CREATE INDEX payments_payer ON payments(payer_id, status);
CREATE INDEX payments_payee ON payments(payee_id, status);
CREATE INDEX payments_contract ON payments(contract_id);

CREATE TABLE balances_new (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    currency TEXT NOT NULL,
    available_minor INTEGER NOT NULL DEFAULT 0
        CHECK (typeof(available_minor) = 'integer' AND available_minor BETWEEN 0 AND 1000000000000000),
    debt_minor INTEGER NOT NULL DEFAULT 0
        CHECK (typeof(debt_minor) = 'integer' AND debt_minor BETWEEN 0 AND 1000000000000000),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, currency)
);
INSERT INTO balances_new (account_id, currency, available_minor, debt_minor, updated_at)
    SELECT account_id, currency, available_minor, debt_minor, updated_at FROM balances;
DROP TABLE balances;
ALTER TABLE balances_new RENAME TO balances;

CREATE TABLE payouts_new (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount_minor INTEGER NOT NULL
        CHECK (typeof(amount_minor) = 'integer' AND amount_minor BETWEEN 0 AND 1000000000000),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    settles_at INTEGER NOT NULL
);
INSERT INTO payouts_new (id, account_id, amount_minor, currency, status, created_at, settles_at)
    SELECT id, account_id, amount_minor, currency, status, created_at, settles_at FROM payouts;
DROP TABLE payouts;
ALTER TABLE payouts_new RENAME TO payouts;
CREATE INDEX payouts_account ON payouts(account_id, status);

CREATE TABLE invoices_new (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    issuer_id TEXT NOT NULL REFERENCES accounts(id),
    recipient_id TEXT NOT NULL REFERENCES accounts(id),
    description TEXT NOT NULL,
    amount_minor INTEGER NOT NULL
        CHECK (typeof(amount_minor) = 'integer' AND amount_minor BETWEEN 0 AND 1000000000000),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    paid_at INTEGER
);
INSERT INTO invoices_new (id, number, contract_id, issuer_id, recipient_id, description, amount_minor, currency, status, issued_at, due_at, paid_at)
    SELECT id, number, contract_id, issuer_id, recipient_id, description, amount_minor, currency, status, issued_at, due_at, paid_at FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_new RENAME TO invoices;
CREATE INDEX invoices_issuer ON invoices(issuer_id);
CREATE INDEX invoices_recipient ON invoices(recipient_id, status);
CREATE INDEX invoices_contract ON invoices(contract_id);

CREATE TABLE invoice_pdfs (
    invoice_id TEXT PRIMARY KEY REFERENCES invoices(id) ON DELETE CASCADE,
    issuer_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    pdf BLOB NOT NULL,
    rendered_at INTEGER NOT NULL
);
INSERT INTO invoice_pdfs (invoice_id, issuer_id, recipient_id, content_hash, pdf, rendered_at)
    SELECT invoice_id, issuer_id, recipient_id, content_hash, pdf, rendered_at FROM invoice_pdfs_keep;
DROP TABLE invoice_pdfs_keep;
CREATE INDEX invoice_pdfs_issuer ON invoice_pdfs(issuer_id);
CREATE INDEX invoice_pdfs_recipient ON invoice_pdfs(recipient_id);
