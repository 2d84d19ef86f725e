-- A create whose answer was lost is taken over by a later run only when the
-- skill found under its name is provably the one it made: every field the
-- create sent (name, description, each setting) has the value sent. The
-- journal now keeps those fields, by field name as in
-- owned_skills.written_state; NULL for other operations and for creates
-- journaled before this column (such a create is never taken over: nothing
-- proves the skill is ours).

-- +goose Up
ALTER TABLE run_operations ADD COLUMN sent jsonb
    CHECK (jsonb_typeof(sent) = 'object');

-- +goose Down
ALTER TABLE run_operations DROP COLUMN sent;
