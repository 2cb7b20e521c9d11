-- Restoration through support, for members who lost their credentials. A request names an
-- address; when it belongs to an account that is not deleted, a one-time code goes to that
-- address (only its SHA-256 is kept here), and once the requester typed it back a support
-- agent approves or denies. The requester follows the request with a status token (its
-- SHA-256 kept). A request whose address matches no account is stored without an account, so
-- the requester learns nothing about which addresses have accounts; it can never be verified.
CREATE TABLE restoration_requests (
    id TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id),
    token_hash BLOB NOT NULL,
    status TEXT NOT NULL,
    explanation_enc BLOB,
    code_hash BLOB,
    code_expires_at INTEGER,
    code_attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    verified_at INTEGER,
    decided_at INTEGER,
    decided_by TEXT REFERENCES accounts(id),
    decision_note TEXT
);
CREATE INDEX restoration_requests_status ON restoration_requests(status, created_at);
CREATE INDEX restoration_requests_account ON restoration_requests(account_id);

-- The single-use password-reset links an approved restoration sends: only the SHA-256 of the
-- token kept, valid for a day.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    request_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX password_resets_account ON password_resets(account_id);

-- The address the "your account was erased" mail goes to, sealed, from the moment erasure
-- clears the contact details until that mail is sent or given up.
ALTER TABLE erasures ADD COLUMN notify_enc BLOB;
