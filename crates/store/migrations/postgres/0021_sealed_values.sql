-- Values that erasure deletes are sealed under the member's data key, so destroying the key
-- makes every old copy unreadable (dead rows, the write-ahead log, backups), not only the live
-- row. These columns take the sealed values; the plaintext columns they replace are sealed
-- into them by `hiatus migrate` (which holds the master key) and dropped by 0022.
ALTER TABLE client_notices ADD COLUMN message_enc BYTEA;
ALTER TABLE client_notices ADD COLUMN forwarding_enc BYTEA;
ALTER TABLE proposals ADD COLUMN cover_letter_enc BYTEA;
ALTER TABLE restoration_requests ADD COLUMN decision_note_enc BYTEA;
-- The free text a member gives with a closure reason, sealed; the audit event's detail keeps
-- ids and codes only.
ALTER TABLE audit_events ADD COLUMN note_enc BYTEA;

-- A notice mail names its sender by reference: the sender's name and the message are read
-- when the mail is sent (from the sealed profile and the message posted in the thread, whose
-- id is the mail's event id), never copied into the queue.
UPDATE mail_deliveries
SET payload = (payload::jsonb - 'from_name' - 'message' - 'forwarding')::text
WHERE kind = 'client.notice';

-- A thread subject that names a person names them by reference: `{name}` in the subject is
-- the current display name of `named_id` (the pseudonym once that member is erased).
ALTER TABLE threads ADD COLUMN named_id TEXT REFERENCES accounts(id);
UPDATE threads
SET named_id = (
        SELECT n.account_id FROM client_notices n JOIN messages m ON m.id = n.id
        WHERE m.thread_id = threads.id AND m.author_id = n.account_id LIMIT 1
    ),
    subject = 'A message from {name}'
WHERE contract_id IS NULL AND subject LIKE 'A message from %'
  AND EXISTS (
        SELECT 1 FROM client_notices n JOIN messages m ON m.id = n.id
        WHERE m.thread_id = threads.id AND m.author_id = n.account_id
    );
CREATE INDEX threads_named ON threads(named_id);
