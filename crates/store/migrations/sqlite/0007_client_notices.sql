-- Telling regular clients: a notice is queued per client with the member's message and an
-- optional forwarding contact, then delivered by a job as a message in their shared thread
-- (its id is the notice's, so a rerun cannot post it twice) and by email.
ALTER TABLE client_notices ADD COLUMN id TEXT;
ALTER TABLE client_notices ADD COLUMN message TEXT;
ALTER TABLE client_notices ADD COLUMN forwarding TEXT;
ALTER TABLE client_notices ADD COLUMN status TEXT NOT NULL DEFAULT 'sent';
ALTER TABLE client_notices ADD COLUMN requested_at INTEGER;
CREATE INDEX client_notices_pending ON client_notices(account_id, status);
