-- The relay's checkpoint: the `$all` point (tx_id, position) up to which every event has been
-- published to RocketMQ and acknowledged by the broker (SEND_OK). It is written only after the
-- broker acknowledged everything up to it, so after a crash the relay resumes at or before the
-- first unacknowledged event: delivery is at least once, never with a gap.
--
-- One row per relay name; replicas with one name share the row and a session advisory lock, so
-- exactly one of them publishes and writes here.
CREATE TABLE relay_checkpoints (
    name        text        PRIMARY KEY,
    tx_id       xid8        NOT NULL,
    position    bigint      NOT NULL CHECK (position >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE relay_checkpoints IS 'Relay checkpoints: last (tx_id, position) acknowledged by the broker, per relay name.';
