-- A run's plan is kept as the JSON text skillsync wrote (json), no longer
-- converted to jsonb: nothing queries inside it, every reader decodes it
-- whole, and the conversion (parse, build, sort every object's keys) was
-- the largest part of PostgreSQL's work for a run: an 82 KB plan of 200
-- creates took ~4-5 ms as jsonb and ~1.5 ms as json on the machine that
-- measured it. Large plans are compressed with lz4 where the server has
-- it (PostgreSQL 14 and later, built with lz4): several times faster than
-- the default pglz. A server without it keeps pglz. The type change
-- rewrites the runs table once.

-- +goose Up
ALTER TABLE runs ALTER COLUMN plan TYPE json USING plan::json;
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE 'ALTER TABLE runs ALTER COLUMN plan SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
    RAISE NOTICE 'runs.plan keeps the default compression: %', SQLERRM;
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE runs ALTER COLUMN plan TYPE jsonb USING plan::jsonb;
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE 'ALTER TABLE runs ALTER COLUMN plan SET COMPRESSION default';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
    NULL;
END
$$;
-- +goose StatementEnd
