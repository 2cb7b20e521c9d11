-- The automatic away reply of a deactivated member goes at most once per thread and calendar
-- day (UTC): this remembers when it last went.
CREATE TABLE away_replies (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    last_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, account_id)
);
CREATE INDEX away_replies_account ON away_replies(account_id);
