-- The projection runtime's own bookkeeping (crate `projections`, module `runtime`).

-- Last applied version of each stream, per PostgreSQL projection. Updated in the same transaction
-- as the read model's own change, so a redelivered or replayed event (version <= marker) is a
-- no-op: effectively-once. (Redis projections keep the same marker in a Redis hash instead.)
CREATE TABLE projection_versions (
    projection  text   NOT NULL,
    stream_id   text   NOT NULL,
    version     bigint NOT NULL CHECK (version >= 0),
    PRIMARY KEY (projection, stream_id)
);

-- Events a projection could not apply (after its retries), and the events of the same stream that
-- arrived after them: a stream with a row here is "stopped" for that projection until an operator
-- re-drives or skips its parked events (design note 10). `event` is the RecordedEvent as JSON; for
-- a message whose body did not decode it is `{"undecodable_body": "<text>"}`, and `version` may be
-- NULL when the message did not say it either.
CREATE TABLE parked_events (
    id          bigserial   PRIMARY KEY,
    projection  text        NOT NULL,
    stream_id   text        NOT NULL,
    version     bigint,
    event_id    uuid,
    position    bigint,
    event       jsonb       NOT NULL,
    error       text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT parked_events_stream_version_key UNIQUE (projection, stream_id, version)
);

-- Where each projection is: written when a rebuild completes (a missing row means "never built
-- here", e.g. a fresh database: rebuild at start) and refreshed periodically from the worker's
-- last applied event, for lag reporting.
CREATE TABLE projection_progress (
    projection  text        PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    recorded_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
