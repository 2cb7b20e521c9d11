-- Email about lifecycle events, one row per event and recipient: the event fans out to it in
-- the transaction that marks the event dispatched (the pair is unique, so a retried fan-out
-- never mails twice), and the sender claims, sends and records it. The address is not stored:
-- it is read from the member's sealed contact details when the mail is sent.
CREATE TABLE mail_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    essential BOOLEAN NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    UNIQUE (event_id, account_id)
);
CREATE INDEX mail_deliveries_due ON mail_deliveries(status, next_attempt_at);
CREATE INDEX mail_deliveries_account ON mail_deliveries(account_id);
