-- A create whose answer was lost is settled as "not made" only from a skill
-- list read at an account revision later than the one the create was sent
-- under (its If-Match): a list that lags behind the create would otherwise
-- settle it, and the skill it made would be nobody's for good. The journal
-- now keeps that revision (an opaque string, compared as a number when both
-- are numbers); NULL for other operations and for creates journaled before
-- this column (settled from any list, as before).

-- +goose Up
ALTER TABLE run_operations ADD COLUMN revision text;

-- +goose Down
ALTER TABLE run_operations DROP COLUMN revision;
