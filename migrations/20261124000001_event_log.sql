-- The event log: the single source of truth. Append-only; read models are derived from it.
--
-- Ordering. `position` is the global position (from a sequence, so it has holes where appends
-- rolled back). Sequence values are taken before commit, so positions do NOT commit in order: a
-- reader of "position > checkpoint" can skip an event forever. Gap-safe readers therefore order by
-- (tx_id, position) and only read rows whose tx_id is below the oldest transaction still running
-- (pg_snapshot_xmin): every such transaction has ended, so no row can appear below that line later.
CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text        NOT NULL,
    category        text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version >= 0),
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL CHECK (event_type <> ''),
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    data            jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    metadata        jsonb       NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_category_matches_stream CHECK (stream_id LIKE category || '-%')
);

-- Gap-safe `$all` reads and tailing: (tx_id, position) > checkpoint AND tx_id < watermark.
CREATE INDEX events_all_idx ON events (tx_id, position);
-- Category reads in position order.
CREATE INDEX events_category_idx ON events (category, position);
-- Audit: the causal chain of a correlation id.
CREATE INDEX events_correlation_idx ON events ((metadata ->> 'correlation_id'), position);
-- Audit: events of a type in a time range.
CREATE INDEX events_type_time_idx ON events (event_type, recorded_at);

COMMENT ON TABLE events IS 'Append-only event log (EventStore-compatible semantics); see event-store crate docs.';
