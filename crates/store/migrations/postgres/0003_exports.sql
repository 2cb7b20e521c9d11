-- Export jobs: what was asked for (a full export, or changes since a date), how far the job
-- got (records and bytes, done of total, so a member watches it move), where the finished
-- archive is kept and until when, and why it failed if it did. A heartbeat lets a new request
-- tell a crashed job from a slow one.
ALTER TABLE exports ADD COLUMN since BIGINT;
ALTER TABLE exports ADD COLUMN records_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE exports ADD COLUMN records_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE exports ADD COLUMN bytes_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE exports ADD COLUMN bytes_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE exports ADD COLUMN blob_key TEXT;
ALTER TABLE exports ADD COLUMN size_bytes BIGINT;
ALTER TABLE exports ADD COLUMN started_at BIGINT;
ALTER TABLE exports ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE exports ADD COLUMN finished_at BIGINT;
ALTER TABLE exports ADD COLUMN expires_at BIGINT;
ALTER TABLE exports ADD COLUMN error TEXT;
CREATE INDEX exports_created ON exports(account_id, created_at);
CREATE INDEX exports_expiry ON exports(status, expires_at);

-- Download links: minted per click, owner-only, short-lived. Only the SHA-256 of the token is
-- kept, so the table alone cannot be used to download anything.
CREATE TABLE export_links (
    token_hash BYTEA PRIMARY KEY,
    export_id TEXT NOT NULL REFERENCES exports(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX export_links_export ON export_links(export_id);
