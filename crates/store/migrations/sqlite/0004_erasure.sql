-- Deletion for good. A member's contact details gain a phone number. An erased member leaves
-- two rows in accounts: the tombstone (the old id, state 'deleted', only the keyed email hash
-- kept, so a login can say the account was deleted) and a pseudonym account (a new random id,
-- a label such as "Former freelancer #7F3A2C") that takes the member's place in every record
-- counterparties keep. Nothing links the two once erasure has finished. The pseudonym account
-- also holds the minimum identity the law requires for retained invoices (the legal name,
-- sealed under the pseudonym's own data key) until retained_until, when it is destroyed.
ALTER TABLE accounts ADD COLUMN phone_enc BLOB;
ALTER TABLE accounts ADD COLUMN pseudonym TEXT;
ALTER TABLE accounts ADD COLUMN retained_until INTEGER;
CREATE UNIQUE INDEX accounts_pseudonym ON accounts(pseudonym) WHERE pseudonym IS NOT NULL;

-- One row per member who asked for deletion: the schedule, the pseudonym chosen for them
-- (shown in the plan before they confirm), and the executor's checkpoint and lease. The link
-- to the pseudonym account is cleared when erasure finishes; the receipt left behind holds
-- counts and dates only.
CREATE TABLE erasures (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    status TEXT NOT NULL,
    pseudonym TEXT,
    pseudonym_id TEXT,
    scheduled_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    step INTEGER NOT NULL DEFAULT 0,
    locked_by TEXT,
    locked_until INTEGER,
    receipt TEXT
);
CREATE INDEX erasures_due ON erasures(status, due_at);
