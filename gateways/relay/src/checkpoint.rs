//! The relay's checkpoint in PostgreSQL (`relay_checkpoints`): the `$all` point up to which the
//! broker acknowledged every event, and the log epoch its transaction id belongs to (see
//! `epoch.rs` and docs/restore-safety.md).

use event_store::AllPosition;
use sqlx::PgPool;

use crate::{LogEpoch, RelayError, pump::CheckpointStore};

/// The checkpoint row of one relay name.
#[derive(Debug, Clone)]
pub struct PgCheckpoints {
    pool: PgPool,
    name: String,
    epoch: Option<LogEpoch>,
}

impl PgCheckpoints {
    /// The checkpoint of relay `name` in the database of `pool`. Writes are stamped with the
    /// database's current epoch unless [`PgCheckpoints::in_epoch`] fixes one.
    pub fn new(pool: PgPool, name: impl Into<String>) -> Self {
        Self {
            pool,
            name: name.into(),
            epoch: None,
        }
    }

    /// Writes stamped with `epoch`, the one the relay checked when it became active: should the
    /// database turn out to be another cluster later, the row then says so rather than pairing
    /// this cluster's epoch with another's transaction id.
    pub fn in_epoch(mut self, epoch: LogEpoch) -> Self {
        self.epoch = Some(epoch);
        self
    }

    /// The stored checkpoint, or [`AllPosition::START`] if none was stored yet.
    pub async fn read(&self) -> Result<AllPosition, RelayError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::int8, position FROM relay_checkpoints WHERE name = $1",
        )
        .bind(&self.name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(AllPosition::START),
            Some((tx_id, position)) => Ok(AllPosition {
                tx_id: u64::try_from(tx_id)
                    .map_err(|_| RelayError::InvalidCheckpoint(format!("tx_id {tx_id}")))?,
                position: u64::try_from(position)
                    .map_err(|_| RelayError::InvalidCheckpoint(format!("position {position}")))?,
            }),
        }
    }

    /// Stores `at`. Never moves the checkpoint backwards: a replica that lost leadership without
    /// noticing yet can only write a point it had itself published up to. Never overwrites a row
    /// of another epoch either: transaction ids of two clusters do not compare, and such a row
    /// was re-anchored by an operator (docs/restore-safety.md).
    pub async fn write(&self, at: AllPosition) -> Result<(), RelayError> {
        let position = i64::try_from(at.position)
            .map_err(|_| RelayError::InvalidCheckpoint(format!("position {}", at.position)))?;
        sqlx::query(
            "INSERT INTO relay_checkpoints AS c (name, tx_id, position, epoch) \
             VALUES ($1, $2::text::xid8, $3, COALESCE($4, relay_log_epoch())) \
             ON CONFLICT (name) DO UPDATE \
                SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, updated_at = now() \
                WHERE c.epoch = EXCLUDED.epoch \
                  AND (c.tx_id, c.position) < (EXCLUDED.tx_id, EXCLUDED.position)",
        )
        .bind(&self.name)
        .bind(at.tx_id.to_string())
        .bind(position)
        .bind(self.epoch.map(|epoch| epoch.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl CheckpointStore for PgCheckpoints {
    type Error = RelayError;

    async fn load(&mut self) -> Result<AllPosition, RelayError> {
        self.read().await
    }

    async fn store(&mut self, at: AllPosition) -> Result<(), RelayError> {
        self.write(at).await
    }
}
