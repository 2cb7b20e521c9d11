-- The one-click "cancel deletion" links of the reminder emails: single-use, valid until the
-- deletion is due, only the SHA-256 of the token kept.
CREATE TABLE deletion_cancel_links (
    token_hash BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX deletion_cancel_links_account ON deletion_cancel_links(account_id);
