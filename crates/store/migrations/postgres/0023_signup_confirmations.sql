-- A public sign-up creates the account unconfirmed: it cannot log in until its owner opens the
-- link mailed to the address and enters the password chosen at sign-up. An account is
-- unconfirmed while it has a row here; accounts created before, by the demo, by the generator
-- or by an operator have none. `signup_id` names the sign-up the row belongs to: a new
-- sign-up of the same address replaces it, so the mail of an earlier one can no longer mint a
-- link. Only the SHA-256 of the link's token is kept; before the mail is sent it holds random
-- bytes that no token matches.
CREATE TABLE signup_confirmations (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    signup_id TEXT NOT NULL,
    token_hash BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signup_confirmations_expires ON signup_confirmations(expires_at);
