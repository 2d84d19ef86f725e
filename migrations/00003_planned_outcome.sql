-- A dry run that finds changes ends "planned": "applied" read as if it had
-- changed LivePerson.

-- +goose Up
ALTER TABLE runs DROP CONSTRAINT runs_outcome_check;

-- Earlier dry runs with changes were recorded as applied; say what they did.
UPDATE runs SET outcome = 'planned' WHERE mode = 'plan' AND outcome = 'applied';

ALTER TABLE runs ADD CONSTRAINT runs_outcome_check CHECK (outcome IN
    ('running', 'no_changes', 'planned', 'applied', 'partial', 'refused', 'failed', 'interrupted'));

-- Only a dry run plans and only an applying run applies.
ALTER TABLE runs ADD CONSTRAINT runs_outcome_mode_check CHECK (CASE mode
    WHEN 'plan' THEN outcome NOT IN ('applied', 'partial')
    ELSE outcome <> 'planned' END);

-- +goose Down
ALTER TABLE runs DROP CONSTRAINT runs_outcome_mode_check;
ALTER TABLE runs DROP CONSTRAINT runs_outcome_check;
UPDATE runs SET outcome = 'applied' WHERE outcome = 'planned';
ALTER TABLE runs ADD CONSTRAINT runs_outcome_check CHECK (outcome IN
    ('running', 'no_changes', 'applied', 'partial', 'refused', 'failed', 'interrupted'));
