-- A create whose answer never arrived (the process died after the POST)
-- leaves a skill in LivePerson that nothing of ours knows. The journal now
-- keeps the rule id and key of each create, so that a later run can take
-- such a skill into the ownership registry under the right key; and it
-- gains the state "resolved" for rows whose outcome a later run settled.

-- +goose Up
ALTER TABLE run_operations
    ADD COLUMN rule_id  text NOT NULL DEFAULT '',
    ADD COLUMN rule_key text NOT NULL DEFAULT '';

ALTER TABLE run_operations DROP CONSTRAINT run_operations_state_check;
ALTER TABLE run_operations ADD CONSTRAINT run_operations_state_check
    CHECK (state IN ('intended', 'sent', 'done', 'failed', 'resolved'));

-- Finds the creates left without an answer; there are few, the journal is
-- large.
CREATE INDEX run_operations_unconfirmed_idx ON run_operations (run_id)
    WHERE action = 'create' AND state IN ('intended', 'sent');

-- +goose Down
DROP INDEX run_operations_unconfirmed_idx;
-- "resolved" means the outcome was unknown; failed with the note is the
-- closest the older schema can say.
UPDATE run_operations SET state = 'failed' WHERE state = 'resolved';
ALTER TABLE run_operations DROP CONSTRAINT run_operations_state_check;
ALTER TABLE run_operations ADD CONSTRAINT run_operations_state_check
    CHECK (state IN ('intended', 'sent', 'done', 'failed'));
ALTER TABLE run_operations DROP COLUMN rule_key, DROP COLUMN rule_id;
