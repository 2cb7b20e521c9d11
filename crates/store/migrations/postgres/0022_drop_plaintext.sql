-- The plaintext columns 0021 replaced. `hiatus migrate` seals their values into the new
-- columns before this runs (and refuses to run it while any remain without the master key).
ALTER TABLE client_notices DROP COLUMN message;
ALTER TABLE client_notices DROP COLUMN forwarding;
ALTER TABLE proposals DROP COLUMN cover_letter;
ALTER TABLE restoration_requests DROP COLUMN decision_note;
