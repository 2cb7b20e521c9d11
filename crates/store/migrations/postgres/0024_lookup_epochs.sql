-- Email lookups are now hashed under the key of the epoch an account's data key is recorded
-- under (`key_epoch`), and a NULL `key_epoch` means "hashed under the key derived from the
-- master key". Every lookup stored so far was hashed under that master-derived key, so the
-- recorded epochs are cleared: such rows stay findable under the old lookup, and the next
-- rotation (the worker runs one within minutes) re-wraps each key, rehashes its lookup under
-- the current epoch and records the epoch again.
UPDATE accounts SET key_epoch = NULL WHERE key_epoch IS NOT NULL;
