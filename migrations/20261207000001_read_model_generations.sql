-- Generations of read models: replay beside the live model, switch atomically, roll back
-- (crate `projections`, src/runtime/generations.rs and replay.rs; docs/read-model-generations.md).
--
-- A generation is one complete copy of a read model, built from the log. At most one generation
-- of a model is `live` (readers and consumers use it) and at most one is `building` (a replay or
-- a verify fills it from the log). A switch makes the building one live and the live one
-- `retired`, kept for a rollback until it is `dropped`. No row for a model means generation 0:
-- the tables and keys the model had before generations existed, live.
--
-- Where a generation's data is:
-- - PostgreSQL: the live generation's tables are always the ones in `public` (so readers never
--   change); any other generation's tables are in schema `rm_<projection>_g<generation>`. A switch
--   moves the two sets of tables between the schemas in one transaction.
-- - Redis: under `<prefix>:<projection>:g<generation>:`; the key `<prefix>:<projection>:epoch`
--   names the live one (`g<generation>`; any other value: generation 0, directly under
--   `<prefix>:<projection>:`).
CREATE TABLE read_model_generations (
    projection          text        NOT NULL,
    generation          integer     NOT NULL CHECK (generation >= 0),
    store               text        NOT NULL CHECK (store IN ('postgres', 'redis')),
    status              text        NOT NULL CHECK (status IN ('building', 'live', 'retired', 'dropped')),
    -- `replay` builds a generation to switch to; `verify` builds one to compare, then drops it.
    purpose             text        NOT NULL CHECK (purpose IN ('replay', 'verify')),
    -- The projection code's version that built it (PostgresProjection::version).
    model_version       integer     NOT NULL,
    -- How far into `$all` it has been filled: (transaction id, position), as the tailer orders.
    checkpoint_tx       bigint      NOT NULL DEFAULT 0,
    checkpoint_position bigint      NOT NULL DEFAULT 0,
    -- Events of the model's categories replayed into it, and the log's head when it started.
    events              bigint      NOT NULL DEFAULT 0,
    head_position       bigint      NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL DEFAULT now(),
    switched_at         timestamptz,
    retired_at          timestamptz,
    PRIMARY KEY (projection, generation)
);
CREATE UNIQUE INDEX read_model_generations_one_live
    ON read_model_generations (projection) WHERE status = 'live';
CREATE UNIQUE INDEX read_model_generations_one_building
    ON read_model_generations (projection) WHERE status = 'building';

-- Version markers live inside a generation: a replay's markers never touch the live ones.
ALTER TABLE projection_versions ADD COLUMN generation integer NOT NULL DEFAULT 0;
ALTER TABLE projection_versions DROP CONSTRAINT projection_versions_pkey;
ALTER TABLE projection_versions ADD PRIMARY KEY (projection, generation, stream_id);
