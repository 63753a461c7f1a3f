//! Read model `payments` (PostgreSQL, category `payment`): every payment with its status,
//! timestamps and refunds.
//!
//! - `rm_payments`, primary key `payment_id`: `order_id`, `customer_id`, `method` (`balance`,
//!   `external`), `amount_minor` + `currency`, `status` (`initiated`, `captured`, `failed`,
//!   `refunded`; a partly refunded payment stays `captured`), `refunded_minor` (sum of refunds),
//!   `provider_reference`, `failure_reason`, `initiated_at`, `captured_at`, `failed_at`,
//!   `last_refunded_at`, `updated_at` (the events' `at`), `initiated_position` (global position
//!   of `PaymentInitiated`, the paging cursor) and `stream_version`. Indexes
//!   `(customer_id, initiated_position DESC)` and `(order_id, initiated_position)`.
//! - `rm_payment_refunds`, primary key `(payment_id, stream_version)`: one row per
//!   `PaymentRefunded`: amount, running total, reason, time.
//!
//! Readers: [`get`], [`for_order`], [`list_for_customer`] (newest first, cursor =
//! `initiated_position`).

use aggregates::{
    CustomerId, Money, OrderId, PaymentId,
    payment::{PaymentEvent, PaymentMethod, PaymentStatus},
};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{ReadError, currency, decode, int8, page_limit, registry};
use crate::{PostgresProjection, ProjectionError};

/// The `payments` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Payments;

impl PostgresProjection for Payments {
    fn name(&self) -> &'static str {
        registry::PAYMENTS.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::PAYMENTS.categories
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_payments", "rm_payment_refunds"]
    }

    fn ddl(&self) -> &'static str {
        include_str!("ddl/payments.sql")
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }
}

fn method_name(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Balance => "balance",
        PaymentMethod::External => "external",
    }
}

async fn apply(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let Some(decoded) = decode::<PaymentEvent>(event)? else {
        return Ok(());
    };
    let version = int8(event.version);
    let (payment_id, rows) = match decoded {
        PaymentEvent::PaymentInitiated {
            payment_id,
            order_id,
            customer_id,
            amount,
            method,
            at,
        } => {
            let rows = sqlx::query(
                "INSERT INTO rm_payments (payment_id, order_id, customer_id, method, \
                     amount_minor, currency, status, refunded_minor, initiated_at, updated_at, \
                     initiated_position, stream_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'initiated', 0, $7, $7, $8, $9) \
                 ON CONFLICT (payment_id) DO NOTHING",
            )
            .bind(payment_id.0)
            .bind(order_id.0)
            .bind(customer_id.0)
            .bind(method_name(method))
            .bind(amount.amount_minor())
            .bind(amount.currency().to_string())
            .bind(at)
            .bind(int8(event.position))
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (payment_id, rows)
        }
        PaymentEvent::PaymentCaptured {
            payment_id,
            amount,
            provider_reference,
            at,
            ..
        } => {
            let rows = sqlx::query(
                "UPDATE rm_payments SET status = 'captured', captured_at = $2, updated_at = $2, \
                     stream_version = $3, provider_reference = $4, amount_minor = $5 \
                 WHERE payment_id = $1 AND currency = $6",
            )
            .bind(payment_id.0)
            .bind(at)
            .bind(version)
            .bind(provider_reference)
            .bind(amount.amount_minor())
            .bind(amount.currency().to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (payment_id, rows)
        }
        PaymentEvent::PaymentFailed {
            payment_id,
            reason,
            at,
            ..
        } => {
            let rows = sqlx::query(
                "UPDATE rm_payments SET status = 'failed', failed_at = $2, updated_at = $2, \
                     stream_version = $3, failure_reason = $4 \
                 WHERE payment_id = $1",
            )
            .bind(payment_id.0)
            .bind(at)
            .bind(version)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (payment_id, rows)
        }
        PaymentEvent::PaymentRefunded {
            payment_id,
            amount,
            total_refunded,
            fully_refunded,
            reason,
            at,
            ..
        } => {
            let rows = sqlx::query(
                "UPDATE rm_payments SET \
                     status = CASE WHEN $4 THEN 'refunded' ELSE status END, \
                     last_refunded_at = $2, updated_at = $2, stream_version = $3, \
                     refunded_minor = $5 \
                 WHERE payment_id = $1 AND currency = $6",
            )
            .bind(payment_id.0)
            .bind(at)
            .bind(version)
            .bind(fully_refunded)
            .bind(total_refunded.amount_minor())
            .bind(total_refunded.currency().to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "INSERT INTO rm_payment_refunds (payment_id, stream_version, amount_minor, \
                     total_refunded_minor, currency, reason, refunded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(payment_id.0)
            .bind(version)
            .bind(amount.amount_minor())
            .bind(total_refunded.amount_minor())
            .bind(amount.currency().to_string())
            .bind(reason)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            (payment_id, rows)
        }
    };
    if rows == 1 {
        Ok(())
    } else {
        Err(ProjectionError::Inconsistent(format!(
            "{} for payment {payment_id} does not fit the payments read model",
            event.event_type
        )))
    }
}

/// One refund of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundView {
    /// Amount of this refund.
    pub amount: Money,
    /// Sum of refunds up to and including this one.
    pub total_refunded: Money,
    /// Why it was refunded.
    pub reason: String,
    /// When it was refunded.
    pub refunded_at: DateTime<Utc>,
}

/// A payment as the query services show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    /// The payment's id.
    pub payment_id: PaymentId,
    /// The order it pays.
    pub order_id: OrderId,
    /// Who pays.
    pub customer_id: CustomerId,
    /// How it is paid.
    pub method: PaymentMethod,
    /// Amount to capture.
    pub amount: Money,
    /// Where it is in its lifecycle.
    pub status: PaymentStatus,
    /// Sum of refunds so far.
    pub refunded: Money,
    /// Every refund, oldest first.
    pub refunds: Vec<RefundView>,
    /// The payment provider's id of the capture, once captured.
    pub provider_reference: Option<String>,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
    /// When it was initiated.
    pub initiated_at: DateTime<Utc>,
    /// When it was captured.
    pub captured_at: Option<DateTime<Utc>>,
    /// When it failed.
    pub failed_at: Option<DateTime<Utc>>,
    /// When the latest refund happened.
    pub last_refunded_at: Option<DateTime<Utc>>,
    /// Time of the last event applied.
    pub updated_at: DateTime<Utc>,
    /// Paging cursor: the global position of `PaymentInitiated`.
    pub cursor: i64,
    /// Version of the payment stream this row reflects.
    pub stream_version: u64,
}

/// One page of [`list_for_customer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPage {
    /// The page's payments, newest first.
    pub payments: Vec<PaymentView>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    payment_id: Uuid,
    order_id: Uuid,
    customer_id: Uuid,
    method: String,
    amount_minor: i64,
    currency: String,
    status: String,
    refunded_minor: i64,
    provider_reference: Option<String>,
    failure_reason: Option<String>,
    initiated_at: DateTime<Utc>,
    captured_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    last_refunded_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    initiated_position: i64,
    stream_version: i64,
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    payment_id: Uuid,
    amount_minor: i64,
    total_refunded_minor: i64,
    currency: String,
    reason: String,
    refunded_at: DateTime<Utc>,
}

const PAYMENT_COLUMNS: &str = "payment_id, order_id, customer_id, method, amount_minor, \
    currency, status, refunded_minor, provider_reference, failure_reason, initiated_at, \
    captured_at, failed_at, last_refunded_at, updated_at, initiated_position, stream_version";

/// The payment `payment_id` with its refunds, if the read model has seen it initiated.
pub async fn get(pool: &PgPool, payment_id: PaymentId) -> Result<Option<PaymentView>, ReadError> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM rm_payments WHERE payment_id = $1");
    let rows: Vec<PaymentRow> = sqlx::query_as(&sql)
        .bind(payment_id.0)
        .fetch_all(pool)
        .await?;
    Ok(with_refunds(pool, rows).await?.pop())
}

/// Every payment for `order_id` (several when an attempt failed), oldest first.
pub async fn for_order(pool: &PgPool, order_id: OrderId) -> Result<Vec<PaymentView>, ReadError> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM rm_payments WHERE order_id = $1 \
         ORDER BY initiated_position"
    );
    let rows: Vec<PaymentRow> = sqlx::query_as(&sql)
        .bind(order_id.0)
        .fetch_all(pool)
        .await?;
    with_refunds(pool, rows).await
}

/// A customer's payments, newest first; `after` is the `next` of the previous page. `limit` is
/// clamped to 1..=500.
pub async fn list_for_customer(
    pool: &PgPool,
    customer_id: CustomerId,
    after: Option<i64>,
    limit: u32,
) -> Result<PaymentPage, ReadError> {
    let limit = page_limit(limit);
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM rm_payments \
         WHERE customer_id = $1 AND ($2::int8 IS NULL OR initiated_position < $2) \
         ORDER BY initiated_position DESC LIMIT $3"
    );
    let rows: Vec<PaymentRow> = sqlx::query_as(&sql)
        .bind(customer_id.0)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let full = rows.len() as i64 == limit;
    let payments = with_refunds(pool, rows).await?;
    let next = if full {
        payments.last().map(|payment| payment.cursor)
    } else {
        None
    };
    Ok(PaymentPage { payments, next })
}

/// Loads the refunds of `rows` in one query and assembles the views, keeping the rows' order.
async fn with_refunds(pool: &PgPool, rows: Vec<PaymentRow>) -> Result<Vec<PaymentView>, ReadError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.payment_id).collect();
    let refunds: Vec<RefundRow> = sqlx::query_as(
        "SELECT payment_id, amount_minor, total_refunded_minor, currency, reason, refunded_at \
         FROM rm_payment_refunds WHERE payment_id = ANY($1) \
         ORDER BY payment_id, stream_version",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let own = refunds
                .iter()
                .filter(|refund| refund.payment_id == row.payment_id);
            let refunds = own.map(refund_view).collect::<Result<Vec<_>, _>>()?;
            payment_view(row, refunds)
        })
        .collect()
}

fn refund_view(row: &RefundRow) -> Result<RefundView, ReadError> {
    let currency = currency(&row.currency)?;
    Ok(RefundView {
        amount: Money::new(row.amount_minor, currency),
        total_refunded: Money::new(row.total_refunded_minor, currency),
        reason: row.reason.clone(),
        refunded_at: row.refunded_at,
    })
}

fn payment_view(row: PaymentRow, refunds: Vec<RefundView>) -> Result<PaymentView, ReadError> {
    let currency = currency(&row.currency)?;
    let method = match row.method.as_str() {
        "balance" => PaymentMethod::Balance,
        "external" => PaymentMethod::External,
        other => return Err(ReadError::Corrupt(format!("payment method {other:?}"))),
    };
    let status = match row.status.as_str() {
        "initiated" => PaymentStatus::Initiated,
        "captured" => PaymentStatus::Captured,
        "failed" => PaymentStatus::Failed,
        "refunded" => PaymentStatus::Refunded,
        other => return Err(ReadError::Corrupt(format!("payment status {other:?}"))),
    };
    Ok(PaymentView {
        payment_id: PaymentId(row.payment_id),
        order_id: OrderId(row.order_id),
        customer_id: CustomerId(row.customer_id),
        method,
        amount: Money::new(row.amount_minor, currency),
        status,
        refunded: Money::new(row.refunded_minor, currency),
        refunds,
        provider_reference: row.provider_reference,
        failure_reason: row.failure_reason,
        initiated_at: row.initiated_at,
        captured_at: row.captured_at,
        failed_at: row.failed_at,
        last_refunded_at: row.last_refunded_at,
        updated_at: row.updated_at,
        cursor: row.initiated_position,
        stream_version: row.stream_version as u64,
    })
}
