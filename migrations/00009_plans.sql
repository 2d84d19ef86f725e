-- Reviewed plans (design §7.2). Every dry run and every refused run keeps
-- what its plan was made from, so that `skillsync apply RUN_ID` can apply
-- exactly that plan, once, or refuse it as stale: the LivePerson
-- revision(s) it read, a SHA-256 fingerprint of the HR records, the delete
-- budget and grace it planned with, and the guard that refused it. The
-- plan itself is the run's plan column. An approval run (trigger
-- 'approval') names the run it applies and who approved it.

-- +goose Up
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('schedule', 'manual', 'api', 'demo', 'approval'));
ALTER TABLE runs ADD COLUMN approved_run bigint REFERENCES runs (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN approved_by text NOT NULL DEFAULT '';

CREATE TABLE plans (
    run_id            bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    skills_revision   text NOT NULL DEFAULT '',
    -- '' when the plan did not read users.
    users_revision    text NOT NULL DEFAULT '',
    -- SHA-256 (hex) of the HR records, independent of their order.
    hr_fingerprint    text NOT NULL,
    -- The refusal of a refused run ('' for a dry run): its approval
    -- overrides that guard once.
    refusal           text NOT NULL DEFAULT '',
    -- The guard that refused it: 'source_health' or 'assignments', or ''.
    refused_by        text NOT NULL DEFAULT '',
    delete_budget     integer NOT NULL,
    delete_after_runs integer NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- The approval run that applies it: claimed once, before the first
    -- write, by a conditional UPDATE; UNIQUE keeps one run from claiming
    -- two plans.
    applied_by_run    bigint UNIQUE REFERENCES runs (id) ON DELETE SET NULL,
    applied_at        timestamptz,
    CHECK ((applied_by_run IS NULL) = (applied_at IS NULL))
);

-- +goose Down
DROP TABLE plans;
ALTER TABLE runs DROP COLUMN approved_by;
ALTER TABLE runs DROP COLUMN approved_run;
DELETE FROM runs WHERE trigger = 'approval';
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('schedule', 'manual', 'api', 'demo'));
