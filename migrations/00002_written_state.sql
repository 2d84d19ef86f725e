-- What skillsync last wrote to each owned skill, so that a hand edit of any
-- managed field (not only the name) is recognised as drift.

-- +goose Up

-- The managed field values skillsync last wrote to the skill, by field name
-- (name, description, max_wait_time, ...), each as its JSON value; NULL when
-- unknown (skills registered before this column, or never written). It
-- lives on the registry row so that it goes when ownership goes.
ALTER TABLE owned_skills ADD COLUMN written_state jsonb
    CHECK (jsonb_typeof(written_state) = 'object');

-- +goose Down
ALTER TABLE owned_skills DROP COLUMN written_state;
