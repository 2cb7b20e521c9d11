-- The floor of the erasure benchmark (`hiatus bench erase`, run by `scripts/bench erase`):
-- the row changes the erasure executor makes for one member, written by hand and run in ONE
-- transaction, each table touched once per member column, no batches, no checkpoints, no
-- plan or receipt computed. The benchmark times it against `Hiatus::erase_account` on an
-- identical copy of the database and checks that both end with the same rows.
--
-- The same text runs on SQLite and PostgreSQL. Statements end with a semicolon at the end of
-- a line; `--` starts a comment line. Values are bound, never written in: `:name` is a
-- placeholder the benchmark replaces with a numbered bind parameter.
--
--   :member          the member's account id (the tombstone after erasure)
--   :pseudonym       the pseudonym account's id (from the member's `erasures` row)
--   :label           the pseudonym shown to others, "Former freelancer #…"
--   :lookup          32 random bytes: the pseudonym's email lookup, which no email matches
--   :tombstone_lookup  32 other random bytes: the tombstone's email lookup, likewise
--   :now             the time of the erasure (microseconds)
--   :day             the start of its day: the pseudonym's times say only the day
--   :retained_until  when the retained invoices and payments run out (the pseudonym keeps
--                    the legal name until then; computed beforehand, as the plan does)
--   :redacted        the placeholder audit details get: {"redacted":true}
--   :member_pattern  `%"account_id":"<member>"%`, to find the member's queued jobs and
--                    undelivered webhooks
--   :from_pattern    `%"from_account":"<member>"%`, to find mail the member caused
--   :outbox_id, :outbox_payload      the account.deleted event integrations receive
--   :erased_outbox_id                 the account.erased event (the same payload)
--   :job_id, :job_payload, :job_dedupe, :purge_at   the job that purges retained records
--   :audit_id, :audit_detail         the account.erased history entry
--   :receipt, :step  what the `erasures` row keeps (counts and dates only)
--   :notify          stands for the sealed address of the "your account was erased" mail

-- The pseudonym account takes the member's place; it keeps the legal name (and the key it
-- is sealed under) while invoices are retained. (The executor seals the name again under a
-- new key; here the sealed value is copied.)
INSERT INTO accounts (id, kind, role, state, email_lookup, legal_name_enc, data_key_wrapped,
    key_epoch, data_changed_at, state_changed_at, created_at, pseudonym, retained_until)
SELECT :pseudonym, kind, 'member', 'deleted', :lookup, legal_name_enc, data_key_wrapped,
    key_epoch, :day, :day, :day, :label, :retained_until
FROM accounts WHERE id = :member;

-- The tombstone: unusable, every secret and contact detail gone.
UPDATE accounts SET state = 'deleted', email_lookup = :tombstone_lookup, email_enc = NULL,
    legal_name_enc = NULL, phone_enc = NULL, data_key_wrapped = NULL, password_hash = NULL,
    totp_secret_enc = NULL, failed_logins = 0, locked_until = NULL, deletion_due_at = NULL,
    state_changed_at = :now, data_changed_at = :now
WHERE id = :member;

-- Deleted: what is about the member only.
DELETE FROM mail_deliveries WHERE account_id = :member;
DELETE FROM deletion_cancel_links WHERE account_id = :member;
DELETE FROM signup_confirmations WHERE account_id = :member;
DELETE FROM restoration_requests WHERE account_id = :member;
DELETE FROM password_resets WHERE account_id = :member;
DELETE FROM away_replies WHERE account_id = :member;
DELETE FROM export_links WHERE account_id = :member;
DELETE FROM exports WHERE account_id = :member;
DELETE FROM sessions WHERE account_id = :member;
DELETE FROM profiles WHERE account_id = :member;
DELETE FROM files WHERE owner_id = :member
    AND (kind IN ('photo', 'private') OR (message_id IS NULL AND submission_id IS NULL));
DELETE FROM proposals WHERE sender_id = :member OR freelancer_id = :member OR client_id = :member;
DELETE FROM job_posts WHERE client_id = :member;
DELETE FROM client_notices WHERE account_id = :member OR client_id = :member;
DELETE FROM balances WHERE account_id = :member;

-- Pseudonymized: what the counterparties keep, now under the pseudonym (reviews stay with
-- their authors, on both sides).
UPDATE files SET owner_id = :pseudonym WHERE owner_id = :member;
UPDATE reviews SET subject_id = :pseudonym WHERE subject_id = :member;
UPDATE reviews SET author_id = :pseudonym WHERE author_id = :member;
UPDATE contracts SET freelancer_id = :pseudonym WHERE freelancer_id = :member;
UPDATE contracts SET client_id = :pseudonym WHERE client_id = :member;
UPDATE disputes SET opened_by = :pseudonym WHERE opened_by = :member;
UPDATE thread_participants SET account_id = :pseudonym WHERE account_id = :member;
UPDATE threads SET named_id = :pseudonym WHERE named_id = :member;
UPDATE messages SET author_id = :pseudonym WHERE author_id = :member;
UPDATE submissions SET freelancer_id = :pseudonym WHERE freelancer_id = :member;

-- Retained under the pseudonym (tax law); the kept invoice PDFs go.
UPDATE invoices SET issuer_id = :pseudonym WHERE issuer_id = :member;
UPDATE invoices SET recipient_id = :pseudonym WHERE recipient_id = :member;
DELETE FROM invoice_pdfs WHERE issuer_id = :member OR recipient_id = :member;
UPDATE payments SET payee_id = :pseudonym WHERE payee_id = :member;
UPDATE payments SET payer_id = :pseudonym WHERE payer_id = :member;
UPDATE payouts SET account_id = :pseudonym WHERE account_id = :member;

-- The history: free text redacted (the sealed note cleared), then retained under the
-- pseudonym (security).
UPDATE audit_events SET detail = :redacted, note_enc = NULL
WHERE account_id = :member AND detail <> :redacted;
UPDATE audit_events SET detail = :redacted, note_enc = NULL
WHERE actor_id = :member AND detail <> :redacted;
UPDATE audit_events SET account_id = :pseudonym WHERE account_id = :member;
UPDATE audit_events SET actor_id = :pseudonym WHERE actor_id = :member;

-- Queued work, undelivered notifications and mail about the member (the erasure events
-- themselves stay).
DELETE FROM jobs WHERE payload LIKE :member_pattern AND status <> 'running';
DELETE FROM outbox WHERE account_id = :member
    AND event NOT IN ('account.deleted', 'account.erased');
DELETE FROM webhook_deliveries WHERE payload LIKE :member_pattern
    AND event NOT IN ('account.deleted', 'account.erased');
DELETE FROM mail_deliveries WHERE payload LIKE :from_pattern;

-- What erasure leaves behind: the events for integrations (erasure started, erasure
-- finished), the purge of retained records, the receipt, the history entry.
INSERT INTO outbox (id, event, account_id, payload, created_at)
VALUES (:outbox_id, 'account.deleted', :member, :outbox_payload, :now);
INSERT INTO jobs (id, kind, payload, dedupe_key, status, attempts, max_attempts, run_at, created_at)
VALUES (:job_id, 'retention.purge', :job_payload, :job_dedupe, 'queued', 0, 20, :purge_at, :now);
UPDATE erasures SET status = 'done', started_at = :now, finished_at = :now, pseudonym = NULL,
    pseudonym_id = NULL, locked_by = NULL, locked_until = NULL, receipt = :receipt, step = :step,
    notify_enc = :notify
WHERE account_id = :member;
INSERT INTO audit_events (id, account_id, actor_id, action, reason, detail, created_at)
VALUES (:audit_id, :member, NULL, 'account.erased', NULL, :audit_detail, :now);
INSERT INTO outbox (id, event, account_id, payload, created_at)
VALUES (:erased_outbox_id, 'account.erased', :member, :outbox_payload, :now);
