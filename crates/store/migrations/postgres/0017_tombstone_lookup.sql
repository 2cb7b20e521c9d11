-- Tombstones of erased members kept the keyed hash of their email, so a login or sign-up with
-- the address told that it once had an account. Erasure now replaces it with random bytes;
-- this does the same for tombstones written before (two random UUIDs: 32 random bytes, no
-- extension needed).
UPDATE accounts
SET email_lookup = decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex')
WHERE state = 'deleted' AND pseudonym IS NULL;
