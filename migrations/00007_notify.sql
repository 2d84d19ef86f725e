-- Notifications (design §7.3): an outbox of messages to the configured
-- sinks, the attempts made to send each, and what was last announced per
-- account, sink and event (so that a state that persists is announced again
-- only after repeat_after). A message names its sink; the sink's URL and
-- secret stay in the configuration, never here.

-- +goose Up
CREATE TABLE notify_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    account_id      text NOT NULL,
    sink            text NOT NULL,
    event           text NOT NULL,
    -- The message, rendered per sink type when it is sent.
    payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- While sending: when the claim lapses and another sender may take it
    -- (its sender died mid-attempt).
    lease_until     timestamptz,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

-- What senders claim: due deliveries, oldest first.
CREATE INDEX notify_deliveries_due_idx ON notify_deliveries (next_attempt_at, id)
    WHERE status IN ('queued', 'sending');
CREATE INDEX notify_deliveries_run_idx ON notify_deliveries (run_id);

CREATE TABLE notify_attempts (
    delivery_id bigint NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    http_status integer,
    error       text NOT NULL DEFAULT '',
    duration_ms bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, attempt)
);

-- The last announcement of a lasting state (refused, failed, partial) per
-- account, sink and event: the reason's SHA-256, when, and the delivery
-- that carried it (one that failed does not count as told).
CREATE TABLE notify_state (
    account_id   text NOT NULL,
    sink         text NOT NULL,
    event        text NOT NULL,
    reason_hash  text NOT NULL,
    announced_at timestamptz NOT NULL,
    run_id       bigint,
    delivery_id  bigint REFERENCES notify_deliveries (id) ON DELETE SET NULL,
    PRIMARY KEY (account_id, sink, event)
);

-- +goose Down
DROP TABLE notify_state;
DROP TABLE notify_attempts;
DROP TABLE notify_deliveries;
