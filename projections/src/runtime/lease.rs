//! The per-model lease: what keeps a rebuild of a read model apart from every consumer of that
//! model, on every replica (docs/projection-batches.md).
//!
//! **Invariant.** While a rebuild of model M clears and replays it, no batch of M is applied by
//! anyone else, and a batch that started before the rebuild has committed before the clear.
//!
//! One PostgreSQL advisory lock per model, in two modes:
//! - every batch of live applies (a consumer's, a re-drive's, a repair's) takes it *shared*,
//!   transaction-scoped, without waiting ([`try_shared`]): batches of one model on many replicas
//!   run side by side, and a crash releases the lock with the transaction. A batch that finds it
//!   taken exclusively gives up at once with [`RuntimeError::LeaseBusy`], a transient error: the
//!   queue waits and offers the batch again (nothing is parked, no connection is held while
//!   waiting).
//! - a rebuild takes it *exclusively* ([`Exclusive::acquire`]), session-scoped on a connection of
//!   its own that is closed, never returned to the pool, when the lease ends: the rebuild spans
//!   many transactions, and a session lock dies with the process or its connection.
//!
//! PostgreSQL queues a waiting exclusive request ahead of later shared ones, so consumers that
//! keep taking the lease cannot starve a rebuild: it waits only for the batches in flight.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use super::RuntimeError;

/// The lock key of model `name` (one 64-bit advisory key, apart from the per-stream keys).
const KEY: &str = "hashtextextended('projection-lease/' || $1, 0)";

/// Takes model `name`'s lease shared for the transaction open on `tx`, or fails at once with
/// [`RuntimeError::LeaseBusy`] while a rebuild holds (or waits for) it exclusively.
pub(super) async fn try_shared(tx: &mut PgConnection, name: &str) -> Result<(), RuntimeError> {
    let taken: bool =
        sqlx::query_scalar(&format!("SELECT pg_try_advisory_xact_lock_shared({KEY})"))
            .bind(name)
            .fetch_one(tx)
            .await?;
    if taken {
        Ok(())
    } else {
        Err(RuntimeError::LeaseBusy {
            projection: name.to_owned(),
        })
    }
}

/// Model `name`'s lease held exclusively, until dropped (its connection is then closed, which
/// releases it).
pub(super) struct Exclusive {
    _conn: PoolConnection<Postgres>,
}

impl Exclusive {
    /// Waits for model `name`'s lease exclusively. The wait is bounded per statement by the
    /// pool's `statement_timeout` and then tried again (another rebuild may hold it for long).
    pub(super) async fn acquire(pool: &PgPool, name: &str) -> Result<Self, RuntimeError> {
        loop {
            let mut conn = pool.acquire().await?;
            // A lease must never go back to the pool with the connection.
            conn.close_on_drop();
            let taken = sqlx::query(&format!("SELECT pg_advisory_lock({KEY})"))
                .bind(name)
                .execute(&mut *conn)
                .await;
            match taken {
                Ok(_) => return Ok(Self { _conn: conn }),
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("57014") => {
                    tracing::info!(projection = name, "still waiting for the model's lease");
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}
