-- Tombstones of erased members kept the keyed hash of their email, so a login or sign-up with
-- the address told that it once had an account. Erasure now replaces it with random bytes;
-- this does the same for tombstones written before.
UPDATE accounts SET email_lookup = randomblob(32) WHERE state = 'deleted' AND pseudonym IS NULL;
