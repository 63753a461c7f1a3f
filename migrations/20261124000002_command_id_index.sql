-- Command idempotency (design note 4): a command service looks a command id up before deciding,
-- and returns the stored result (stream, version and position of the command's last event) if the
-- command already ran. Every event records its command id in metadata; this index makes that
-- lookup one index probe instead of a scan of the log. Events without a command id stay out of it.
CREATE INDEX events_command_id_idx ON events ((metadata ->> 'command_id'))
    WHERE metadata ->> 'command_id' IS NOT NULL;
