-- Data keys are wrapped under the key of an epoch (a UTC day) instead of directly under the
-- master key; this column repeats the epoch the wrapped key names, so rotation and
-- `hiatus keys status` find keys by epoch without opening them. NULL: wrapped under the
-- master key before key epochs (the first rotation re-wraps these), or not recorded.
ALTER TABLE accounts ADD COLUMN key_epoch BIGINT;
CREATE INDEX accounts_key_epoch ON accounts(key_epoch) WHERE data_key_wrapped IS NOT NULL;
