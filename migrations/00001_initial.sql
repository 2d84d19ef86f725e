-- The initial schema: runs and their operation journal, the ownership
-- registry, source snapshots and pending deletes.

-- +goose Up

-- One row per run, plan or apply. Counts are per action so that run history
-- can be queried without parsing the plan.
CREATE TABLE runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger             text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'api', 'demo')),
    mode                text NOT NULL CHECK (mode IN ('plan', 'apply')),
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    outcome             text NOT NULL DEFAULT 'running'
                        CHECK (outcome IN ('running', 'no_changes', 'applied', 'partial', 'refused', 'failed', 'interrupted')),
    creates             integer NOT NULL DEFAULT 0,
    updates             integer NOT NULL DEFAULT 0,
    deletes             integer NOT NULL DEFAULT 0,
    pending_deletes     integer NOT NULL DEFAULT 0,
    unchanged           integer NOT NULL DEFAULT 0,
    unmanaged_conflicts integer NOT NULL DEFAULT 0,
    assigns             integer NOT NULL DEFAULT 0,
    unassigns           integer NOT NULL DEFAULT 0,
    failed              integer NOT NULL DEFAULT 0,
    error               text NOT NULL DEFAULT '',
    plan                jsonb,
    snapshot_id         bigint,
    -- The highest journal sequence number handed out for this run; bumping
    -- it in the same statement as the insert keeps sequences gap-free and
    -- safe under concurrent journal writers.
    last_seq            integer NOT NULL DEFAULT 0,
    -- A finished run has a finish time, a running one has none.
    CHECK ((outcome = 'running') = (finished_at IS NULL))
);

-- Finds runs left running by a dead process, and the last success.
CREATE INDEX runs_outcome_idx ON runs (outcome, id DESC);

-- The journal: one row per intended change to LivePerson, written before the
-- call (intended), just before the request leaves (sent) and after the answer
-- (done or failed), so an interrupted run shows exactly what was in flight.
CREATE TABLE run_operations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    action      text NOT NULL,
    skill_name  text NOT NULL DEFAULT '',
    skill_id    bigint,
    request     text NOT NULL DEFAULT '',
    state       text NOT NULL CHECK (state IN ('intended', 'sent', 'done', 'failed')),
    http_status integer,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, seq)
);

-- The ownership registry: the LivePerson skills skillsync manages. A released
-- skill keeps its row (history) but is no longer managed.
CREATE TABLE owned_skills (
    skill_id       bigint PRIMARY KEY,
    name           text NOT NULL,
    rule_id        text NOT NULL DEFAULT '',
    rule_key       text NOT NULL DEFAULT '',
    created_by_run bigint REFERENCES runs (id) ON DELETE SET NULL,
    adopted        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz
);

-- A rule key names one managed skill: two managed skills with the same key
-- would make renames ambiguous.
CREATE UNIQUE INDEX owned_skills_rule_key_idx ON owned_skills (rule_key)
    WHERE released_at IS NULL AND rule_key <> '';

CREATE INDEX owned_skills_name_idx ON owned_skills (name) WHERE released_at IS NULL;

-- The health statistics of each source read, accepted or refused by the
-- source-health guard.
CREATE TABLE source_snapshots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       bigint REFERENCES runs (id) ON DELETE CASCADE,
    records      integer NOT NULL,
    active       integer NOT NULL,
    value_counts jsonb NOT NULL DEFAULT '{}',
    header_hash  text NOT NULL DEFAULT '',
    accepted     boolean NOT NULL,
    reason       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX source_snapshots_accepted_idx ON source_snapshots (id DESC) WHERE accepted;

ALTER TABLE runs ADD CONSTRAINT runs_snapshot_id_fkey
    FOREIGN KEY (snapshot_id) REFERENCES source_snapshots (id) ON DELETE SET NULL;

-- Owned skills absent from the desired state, waiting out the delete grace.
CREATE TABLE pending_deletes (
    skill_id                 bigint PRIMARY KEY,
    skill_name               text NOT NULL DEFAULT '',
    first_missing_run        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    consecutive_missing_runs integer NOT NULL CHECK (consecutive_missing_runs >= 0),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE pending_deletes;
ALTER TABLE runs DROP CONSTRAINT runs_snapshot_id_fkey;
DROP TABLE source_snapshots;
DROP TABLE owned_skills;
DROP TABLE run_operations;
DROP TABLE runs;
