-- Several LivePerson accounts (design §7.1): every piece of state belongs
-- to one account, keyed by its LivePerson account id. Skill ids are only
-- unique within an account, so the registry and the pending deletes are
-- keyed by (account, skill id); rule keys and names are unique per account.
-- The journal belongs to its run and the stored plan is on the run row, so
-- both follow the run's account.
--
-- Rows written before this migration do not know their account: they get
-- the empty account id, which no configured account has. skillsync gives
-- them to the account configured at its first start (with several
-- configured, to the one `skillsync migrate --legacy-account NAME` names)
-- and works on no account's state while any are left.

-- +goose Up
ALTER TABLE runs ADD COLUMN account_id text NOT NULL DEFAULT '';
ALTER TABLE runs ALTER COLUMN account_id DROP DEFAULT;
-- History, last run and last success of one account; finding its runs
-- left running.
CREATE INDEX runs_account_idx ON runs (account_id, id DESC);
CREATE INDEX runs_account_outcome_idx ON runs (account_id, outcome, id DESC);
DROP INDEX runs_outcome_idx;

ALTER TABLE owned_skills ADD COLUMN account_id text NOT NULL DEFAULT '';
ALTER TABLE owned_skills ALTER COLUMN account_id DROP DEFAULT;
ALTER TABLE owned_skills DROP CONSTRAINT owned_skills_pkey;
ALTER TABLE owned_skills ADD PRIMARY KEY (account_id, skill_id);
DROP INDEX owned_skills_rule_key_idx;
CREATE UNIQUE INDEX owned_skills_rule_key_idx ON owned_skills (account_id, rule_key)
    WHERE released_at IS NULL AND rule_key <> '';
DROP INDEX owned_skills_name_idx;
CREATE INDEX owned_skills_name_idx ON owned_skills (account_id, name) WHERE released_at IS NULL;

ALTER TABLE source_snapshots ADD COLUMN account_id text NOT NULL DEFAULT '';
ALTER TABLE source_snapshots ALTER COLUMN account_id DROP DEFAULT;
DROP INDEX source_snapshots_accepted_idx;
CREATE INDEX source_snapshots_accepted_idx ON source_snapshots (account_id, id DESC) WHERE accepted;

ALTER TABLE pending_deletes ADD COLUMN account_id text NOT NULL DEFAULT '';
ALTER TABLE pending_deletes ALTER COLUMN account_id DROP DEFAULT;
ALTER TABLE pending_deletes DROP CONSTRAINT pending_deletes_pkey;
ALTER TABLE pending_deletes ADD PRIMARY KEY (account_id, skill_id);

-- +goose Down
-- Only a database with one account's state can go back: the older schema
-- keys skills by id alone.
ALTER TABLE pending_deletes DROP CONSTRAINT pending_deletes_pkey;
ALTER TABLE pending_deletes ADD PRIMARY KEY (skill_id);
ALTER TABLE pending_deletes DROP COLUMN account_id;

DROP INDEX source_snapshots_accepted_idx;
CREATE INDEX source_snapshots_accepted_idx ON source_snapshots (id DESC) WHERE accepted;
ALTER TABLE source_snapshots DROP COLUMN account_id;

DROP INDEX owned_skills_name_idx;
CREATE INDEX owned_skills_name_idx ON owned_skills (name) WHERE released_at IS NULL;
DROP INDEX owned_skills_rule_key_idx;
CREATE UNIQUE INDEX owned_skills_rule_key_idx ON owned_skills (rule_key)
    WHERE released_at IS NULL AND rule_key <> '';
ALTER TABLE owned_skills DROP CONSTRAINT owned_skills_pkey;
ALTER TABLE owned_skills ADD PRIMARY KEY (skill_id);
ALTER TABLE owned_skills DROP COLUMN account_id;

CREATE INDEX runs_outcome_idx ON runs (outcome, id DESC);
DROP INDEX runs_account_outcome_idx;
DROP INDEX runs_account_idx;
ALTER TABLE runs DROP COLUMN account_id;
