//! Restore safety (docs/restore-safety.md): the relay's checkpoint is only meaningful in the
//! PostgreSQL cluster that wrote it.
//!
//! The checkpoint is a `(tx_id, position)` point, and `tx_id` (`xid8`) orders events only within
//! one cluster. After a pg_dump/restore or a logical-replication migration into another cluster,
//! new transactions may get ids below the restored checkpoint: the relay would wait for them
//! forever, publishing nothing, or skip some of them for good. So every checkpoint row carries
//! the **log epoch** it was written in: the cluster's system identifier
//! (`pg_control_system()`, through the SQL function `relay_log_epoch()`), which a restore or a
//! migration changes and a restart or a physical failover does not.
//!
//! [`check`] compares the stored epoch with the current one (and, as a second guard, the stored
//! `tx_id` with the cluster's next transaction id, which no checkpoint of this cluster can
//! exceed). On a mismatch the relay refuses to publish until an operator re-anchors the
//! checkpoint by position with [`Reanchor`] (`commerce-relay reanchor`).

use std::fmt;

use event_store::AllPosition;
use sqlx::{Connection, PgConnection, PgPool};

use crate::RelayError;

/// The identity of the cluster whose transaction ids a checkpoint is expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogEpoch(pub i64);

impl fmt::Display for LogEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A stored checkpoint and the epoch it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The `$all` point.
    pub at: AllPosition,
    /// The epoch its `tx_id` belongs to.
    pub epoch: LogEpoch,
}

/// Where the database's clock stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogClock {
    epoch: LogEpoch,
    /// `pg_snapshot_xmin` of the current snapshot: every transaction below it has ended.
    xmin: u64,
    /// `pg_snapshot_xmax`: the next transaction id to be assigned.
    next_tx_id: u64,
}

/// The epoch of the database `pool` points at.
pub async fn current_epoch(pool: &PgPool) -> Result<LogEpoch, RelayError> {
    let epoch: i64 = sqlx::query_scalar("SELECT relay_log_epoch()")
        .fetch_one(pool)
        .await?;
    Ok(LogEpoch(epoch))
}

/// Checks that relay `name`'s checkpoint belongs to this database's epoch. `Ok` with the epoch
/// to write further checkpoints in (no checkpoint yet is consistent: the relay starts at the
/// beginning); [`RelayError::LogEpochMismatch`] when the relay must not publish.
pub async fn check(pool: &PgPool, name: &str) -> Result<LogEpoch, RelayError> {
    let mut connection = pool.acquire().await?;
    let clock = clock(&mut connection).await?;
    let Some(stored) = stored(&mut connection, name).await? else {
        return Ok(clock.epoch);
    };
    let reason = if stored.epoch != clock.epoch {
        format!(
            "its checkpoint {} was written in log epoch {} but this database is in epoch {} \
             (restored or migrated into another PostgreSQL cluster)",
            stored.at, stored.epoch, clock.epoch
        )
    } else if stored.at.tx_id > clock.next_tx_id {
        format!(
            "its checkpoint {} names transaction {} but this cluster's next transaction is {} \
             (restored or migrated into another PostgreSQL cluster)",
            stored.at, stored.at.tx_id, clock.next_tx_id
        )
    } else {
        return Ok(clock.epoch);
    };
    Err(RelayError::LogEpochMismatch {
        name: name.to_owned(),
        reason,
        after_position: suggested_position(&mut connection, stored.at).await?,
    })
}

/// The position to suggest re-anchoring after: the stored checkpoint's position, or just before
/// the first event the old relay had not published yet if that comes earlier. Positions are data
/// a restore copies, and the restored events keep the old cluster's transaction ids, in which
/// the stored point is still exact.
async fn suggested_position(
    connection: &mut PgConnection,
    at: AllPosition,
) -> Result<u64, RelayError> {
    let first_unpublished: Option<i64> = sqlx::query_scalar(
        "SELECT min(position) FROM events WHERE (tx_id, position) > ($1::text::xid8, $2)",
    )
    .bind(at.tx_id.to_string())
    .bind(to_i64(at.position)?)
    .fetch_one(&mut *connection)
    .await?;
    Ok(first_unpublished
        .and_then(|position| u64::try_from(position - 1).ok())
        .map_or(at.position, |before| before.min(at.position)))
}

async fn clock(connection: &mut PgConnection) -> Result<LogClock, RelayError> {
    let (epoch, xmin, next): (i64, i64, i64) = sqlx::query_as(
        "SELECT relay_log_epoch(), \
                pg_snapshot_xmin(pg_current_snapshot())::text::int8, \
                pg_snapshot_xmax(pg_current_snapshot())::text::int8",
    )
    .fetch_one(&mut *connection)
    .await?;
    Ok(LogClock {
        epoch: LogEpoch(epoch),
        xmin: to_u64(xmin)?,
        next_tx_id: to_u64(next)?,
    })
}

async fn stored(
    connection: &mut PgConnection,
    name: &str,
) -> Result<Option<StoredCheckpoint>, RelayError> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::int8, position, epoch FROM relay_checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *connection)
    .await?;
    row.map(|(tx_id, position, epoch)| {
        Ok(StoredCheckpoint {
            at: AllPosition {
                tx_id: to_u64(tx_id)?,
                position: to_u64(position)?,
            },
            epoch: LogEpoch(epoch),
        })
    })
    .transpose()
}

/// Where a re-anchored relay resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReanchorTarget {
    /// Publish every event whose position is above this one (and possibly some before it
    /// again): at least once.
    AfterPosition(u64),
    /// Publish the whole log again.
    Start,
}

/// The operator command `commerce-relay reanchor`: sets relay `name`'s checkpoint, in this
/// database's epoch, to a point from which every event after the target position is published
/// at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reanchor {
    /// The relay name (`relay.name`).
    pub name: String,
    /// Where to resume.
    pub target: ReanchorTarget,
    /// Re-anchor even though the checkpoint is consistent (a replay). Stop every relay of the
    /// name first: a running one would move the checkpoint forward again.
    pub force: bool,
}

/// What [`Reanchor::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reanchored {
    /// The relay name.
    pub name: String,
    /// The checkpoint before, if there was one.
    pub previous: Option<StoredCheckpoint>,
    /// The checkpoint now.
    pub now: StoredCheckpoint,
    /// The target it was computed for.
    pub target: ReanchorTarget,
}

impl fmt::Display for Reanchored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "relay {} re-anchored: checkpoint ", self.name)?;
        match self.previous {
            Some(previous) => write!(f, "{} (epoch {})", previous.at, previous.epoch)?,
            None => write!(f, "none")?,
        }
        write!(f, " -> {} (epoch {}); ", self.now.at, self.now.epoch)?;
        match self.target {
            ReanchorTarget::AfterPosition(position) => write!(
                f,
                "every event after position {position} will be published at least once"
            ),
            ReanchorTarget::Start => write!(f, "the whole log will be published again"),
        }
    }
}

impl Reanchor {
    /// Computes and stores the new checkpoint, in one repeatable-read transaction so the events
    /// it looks at and the transactions still running are one snapshot.
    ///
    /// For [`ReanchorTarget::AfterPosition`] `n` the checkpoint is the lowest point below every
    /// event with a position above `n` — `(t, p - 1)` for the smallest such `(tx_id, position)`
    /// — and below every transaction still running or not yet started — `(xmin, 0)`. Events at
    /// or below `n` that sort after that point are published again; consumers drop such
    /// repeats (projections by their per-stream versions).
    ///
    /// Refuses ([`RelayError::Reanchor`]) when the checkpoint is consistent and `force` is not
    /// set, when `n` is beyond the last event, and when the log holds transaction ids beyond
    /// this cluster's next one (see docs/restore-safety.md: the gap-safe reader would hold
    /// those events back, so the cluster's transaction counter must be advanced first).
    pub async fn run(&self, pool: &PgPool) -> Result<Reanchored, RelayError> {
        if !self.force {
            match check(pool, &self.name).await {
                Err(RelayError::LogEpochMismatch { .. }) => {}
                Ok(_) => {
                    return Err(RelayError::Reanchor(format!(
                        "relay {}'s checkpoint belongs to this database's log epoch; nothing \
                         to re-anchor (to replay, stop every relay named {} and pass --force)",
                        self.name, self.name
                    )));
                }
                Err(other) => return Err(other),
            }
        }
        let mut connection = pool.acquire().await?;
        let mut tx = connection.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let clock = clock(&mut tx).await?;
        let previous = stored(&mut tx, &self.name).await?;
        let (max_tx, max_position): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT max(tx_id)::text::int8, max(position) FROM events")
                .fetch_one(&mut *tx)
                .await?;
        if let Some(max_tx) = max_tx.map(to_u64).transpose()?
            && max_tx >= clock.next_tx_id
        {
            return Err(RelayError::Reanchor(format!(
                "the event log holds transaction ids up to {max_tx}, beyond this cluster's next \
                 transaction {}: the relay could not read those events until the cluster's \
                 transaction counter passes them; advance it first (see docs/restore-safety.md)",
                clock.next_tx_id
            )));
        }
        let at = match self.target {
            ReanchorTarget::Start => AllPosition::START,
            ReanchorTarget::AfterPosition(after) => {
                let last = max_position.map(to_u64).transpose()?.unwrap_or(0);
                if after > last {
                    return Err(RelayError::Reanchor(format!(
                        "position {after} is beyond the last event of the log ({last})"
                    )));
                }
                self.anchor_after(&mut tx, after, clock).await?
            }
        };
        sqlx::query(
            "INSERT INTO relay_checkpoints (name, tx_id, position, epoch) \
             VALUES ($1, $2::text::xid8, $3, $4) \
             ON CONFLICT (name) DO UPDATE \
                SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, \
                    epoch = EXCLUDED.epoch, updated_at = now()",
        )
        .bind(&self.name)
        .bind(at.tx_id.to_string())
        .bind(to_i64(at.position)?)
        .bind(clock.epoch.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Reanchored {
            name: self.name.clone(),
            previous,
            now: StoredCheckpoint {
                at,
                epoch: clock.epoch,
            },
            target: self.target,
        })
    }

    /// The checkpoint below every event after `after` and every transaction not yet ended.
    async fn anchor_after(
        &self,
        connection: &mut PgConnection,
        after: u64,
        clock: LogClock,
    ) -> Result<AllPosition, RelayError> {
        // Two steps over the primary key instead of one ordered scan of the whole `$all` index:
        // the tail after `after` is what a re-anchor usually spans.
        let after = to_i64(after)?;
        let lowest_tx: Option<i64> =
            sqlx::query_scalar("SELECT min(tx_id)::text::int8 FROM events WHERE position > $1")
                .bind(after)
                .fetch_one(&mut *connection)
                .await?;
        // Not started or still running: their events will sort above (xmin, 0).
        let unfinished = AllPosition {
            tx_id: clock.xmin,
            position: 0,
        };
        let Some(lowest_tx) = lowest_tx else {
            return Ok(unfinished);
        };
        let first: i64 = sqlx::query_scalar(
            "SELECT min(position) FROM events WHERE position > $1 AND tx_id = $2::text::xid8",
        )
        .bind(after)
        .bind(lowest_tx.to_string())
        .fetch_one(&mut *connection)
        .await?;
        // Positions start at 1, so `first - 1` is a valid (if eventless) point.
        let before_first = AllPosition {
            tx_id: to_u64(lowest_tx)?,
            position: to_u64(first - 1)?,
        };
        Ok(before_first.min(unfinished))
    }
}

fn to_u64(value: i64) -> Result<u64, RelayError> {
    u64::try_from(value).map_err(|_| RelayError::InvalidCheckpoint(format!("negative {value}")))
}

fn to_i64(value: u64) -> Result<i64, RelayError> {
    i64::try_from(value).map_err(|_| RelayError::InvalidCheckpoint(format!("{value} too large")))
}
