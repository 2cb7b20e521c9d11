-- Money columns hold amounts within the bounds of hiatus_domain::money: an amount is
-- 0..=10^12 minor units, a balance 0..=10^15. BIGINT already refuses non-integers and
-- reports overflow; these refuse what the application never writes, so a bug or a hand-made
-- row cannot put an unpayable amount on the books. (SQLite gets the same checks by rebuilding
-- its tables.) A database that already holds an out-of-range amount fails this migration:
-- repair that row by hand first.
ALTER TABLE milestones ADD CONSTRAINT milestones_amount_bounds
    CHECK (amount_minor BETWEEN 0 AND 1000000000000);
ALTER TABLE payments ADD CONSTRAINT payments_amount_bounds
    CHECK (amount_minor BETWEEN 0 AND 1000000000000);
ALTER TABLE payouts ADD CONSTRAINT payouts_amount_bounds
    CHECK (amount_minor BETWEEN 0 AND 1000000000000);
ALTER TABLE invoices ADD CONSTRAINT invoices_amount_bounds
    CHECK (amount_minor BETWEEN 0 AND 1000000000000);
ALTER TABLE balances ADD CONSTRAINT balances_available_bounds
    CHECK (available_minor BETWEEN 0 AND 1000000000000000);
ALTER TABLE balances ADD CONSTRAINT balances_debt_bounds
    CHECK (debt_minor BETWEEN 0 AND 1000000000000000);
