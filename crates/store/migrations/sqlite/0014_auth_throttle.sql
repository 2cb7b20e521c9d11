-- Wrong-password counters that an attacker without the password cannot turn into a lockout of
-- the owner. A row counts the failures of one subject (the keyed hash of an address that was
-- tried, or of a session that re-authenticates) from one client (the client's address, or the
-- session): guesses from one place block only that place, while the owner's right password from
-- anywhere else still works. Counters change with one conditional upsert, never
-- read-then-write, so concurrent guesses cannot slip past the limit.
CREATE TABLE auth_throttle (
    subject BLOB NOT NULL,
    client TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    blocked_until INTEGER,
    PRIMARY KEY (subject, client)
);
CREATE INDEX auth_throttle_window ON auth_throttle(window_start);

