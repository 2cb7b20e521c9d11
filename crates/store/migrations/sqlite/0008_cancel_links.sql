-- The one-click "cancel deletion" links of the reminder emails: single-use, valid until the
-- deletion is due, only the SHA-256 of the token kept.
CREATE TABLE deletion_cancel_links (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX deletion_cancel_links_account ON deletion_cancel_links(account_id);
