//! Deadlines are data (`docs/checkout.md`): table `checkout_deadlines`, one row per checkout that
//! is not final. Every replica polls it; a due row is claimed for a while with
//! `FOR UPDATE SKIP LOCKED` in a short transaction (never held across the calls the checkout
//! then makes), so two replicas never fire one deadline at once and a replica that dies releases
//! its claims by time.

use std::time::Duration;

use aggregates::OrderId;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A checkout past its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// The checkout (its order).
    pub order_id: OrderId,
    /// When it was due.
    pub due_at: DateTime<Utc>,
}

/// The deadline table.
#[derive(Debug, Clone)]
pub struct Deadlines {
    pool: PgPool,
}

impl Deadlines {
    /// The table in `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Records that checkout `order_id` is due at `due_at`, unless it is recorded already.
    pub async fn set(&self, order_id: OrderId, due_at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO checkout_deadlines (checkout_id, due_at) VALUES ($1, $2) \
             ON CONFLICT (checkout_id) DO NOTHING",
        )
        .bind(order_id.0)
        .bind(due_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets checkout `order_id`'s deadline (it is final, or paid).
    pub async fn clear(&self, order_id: OrderId) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM checkout_deadlines WHERE checkout_id = $1")
            .bind(order_id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Claims up to `limit` due deadlines that no replica holds, for `claim`, and returns them.
    pub async fn claim_due(
        &self,
        limit: i64,
        claim: Duration,
    ) -> Result<Vec<OrderId>, sqlx::Error> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "WITH due AS ( \
                 SELECT checkout_id FROM checkout_deadlines \
                 WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until <= now()) \
                 ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             UPDATE checkout_deadlines d \
             SET claimed_until = now() + make_interval(secs => $2) \
             FROM due WHERE d.checkout_id = due.checkout_id \
             RETURNING d.checkout_id",
        )
        .bind(limit)
        .bind(claim.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| OrderId(id)).collect())
    }

    /// Checkouts more than `after` past their deadline and still not final ("stuck"), oldest
    /// first, at most `limit`.
    pub async fn stuck(&self, after: Duration, limit: i64) -> Result<Vec<Overdue>, sqlx::Error> {
        let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT checkout_id, due_at FROM checkout_deadlines \
             WHERE due_at < now() - make_interval(secs => $1) ORDER BY due_at LIMIT $2",
        )
        .bind(after.as_secs_f64())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, due_at)| Overdue {
                order_id: OrderId(id),
                due_at,
            })
            .collect())
    }

    /// How many checkouts are stuck (see [`stuck`](Self::stuck)).
    pub async fn count_stuck(&self, after: Duration) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT count(*) FROM checkout_deadlines WHERE due_at < now() - make_interval(secs => $1)",
        )
        .bind(after.as_secs_f64())
        .fetch_one(&self.pool)
        .await
    }
}
