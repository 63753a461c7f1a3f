-- Restore safety of the relay (docs/restore-safety.md).
--
-- A relay checkpoint is a (tx_id, position) point, and tx_id (xid8) orders events only within one
-- PostgreSQL cluster. After a pg_dump/restore or a logical-replication migration into another
-- cluster, new transactions can get ids below the restored checkpoint, and a relay resuming from
-- it would wait for them forever (or skip some for good). Each checkpoint therefore records the
-- log epoch it was written in: the cluster's system identifier, which initdb chooses and which a
-- restart, a physical replica's promotion or a PITR restore keep, while a dump restored into (or a
-- logical migration to) another cluster changes it. The relay compares it with relay_log_epoch()
-- and refuses to publish on a mismatch until `commerce-relay reanchor` sets the checkpoint anew.
--
-- The function is evaluated where it runs: restored into another cluster, it returns that
-- cluster's identifier, while the stored epochs (data) keep the old one.
CREATE FUNCTION relay_log_epoch() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT system_identifier FROM pg_control_system() $$;

COMMENT ON FUNCTION relay_log_epoch() IS
    'The log epoch relay checkpoints are expressed in: this cluster''s system identifier.';

-- Existing rows were written in the cluster this migration runs in: they get its epoch (a
-- non-volatile default is evaluated once, here). Rows inserted without an epoch (a relay of an
-- earlier version during a rolling upgrade) get the epoch of the cluster they are written in.
ALTER TABLE relay_checkpoints
    ADD COLUMN epoch bigint NOT NULL DEFAULT relay_log_epoch();

COMMENT ON COLUMN relay_checkpoints.epoch IS
    'Log epoch (relay_log_epoch(), the cluster''s system identifier) that tx_id belongs to.';
