//! The `checkouts` read model's readers and the views they return (layout in the parent module).

use aggregates::{CustomerId, Money, OrderId, PaymentId, payment::PaymentMethod};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{in_flight_statuses, statuses};
use crate::read_models::{ReadError, currency, page_limit};

/// One event of a checkout, as its customer follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The event's version in the checkout stream.
    pub version: u64,
    /// The event type, e.g. `CheckoutStepRefused`.
    pub kind: String,
    /// The step answered ([`Step::name`](aggregates::checkout::Step::name)), for a step's
    /// answer.
    pub step: Option<String>,
    /// A refusal's message, the fact noticed (`payment_failed: card declined`), or a turn's
    /// reason.
    pub detail: Option<String>,
    /// When (the event's own `at`).
    pub at: DateTime<Utc>,
}

/// A checkout as the query services show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutView {
    /// The order, also the checkout's id.
    pub order_id: OrderId,
    /// The buyer.
    pub customer_id: CustomerId,
    /// The payment it collects with.
    pub payment_id: PaymentId,
    /// How the customer pays.
    pub method: PaymentMethod,
    /// The amount to collect.
    pub total: Money,
    /// Where it is: a [`Phase::name`](aggregates::checkout::Phase::name).
    pub status: &'static str,
    /// Why it is compensating (then cancelled) or refunding (then refunded).
    pub reason: Option<String>,
    /// When it is given up if not paid.
    pub deadline_at: DateTime<Utc>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Time of the last event applied.
    pub updated_at: DateTime<Utc>,
    /// Every event, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Paging cursor: the global position of `CheckoutStarted`.
    pub cursor: i64,
    /// Version of the checkout stream this row reflects.
    pub stream_version: u64,
}

/// One page of [`stuck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutPage {
    /// The page's checkouts, oldest first.
    pub checkouts: Vec<CheckoutView>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CheckoutRow {
    order_id: Uuid,
    customer_id: Uuid,
    payment_id: Uuid,
    method: String,
    total_minor: i64,
    currency: String,
    status: String,
    reason: Option<String>,
    deadline_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_position: i64,
    stream_version: i64,
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    order_id: Uuid,
    stream_version: i64,
    kind: String,
    step: Option<String>,
    detail: Option<String>,
    at: DateTime<Utc>,
}

const CHECKOUT_COLUMNS: &str = "order_id, customer_id, payment_id, method, total_minor, \
    currency, status, reason, deadline_at, started_at, updated_at, started_position, \
    stream_version";

/// The checkout of order `order_id` with its timeline, if the read model has seen it start.
pub async fn get(pool: &PgPool, order_id: OrderId) -> Result<Option<CheckoutView>, ReadError> {
    let sql = format!("SELECT {CHECKOUT_COLUMNS} FROM rm_checkouts WHERE order_id = $1");
    let rows: Vec<CheckoutRow> = sqlx::query_as(&sql)
        .bind(order_id.0)
        .fetch_all(pool)
        .await?;
    Ok(with_timeline(pool, rows).await?.pop())
}

/// The stuck checkouts, oldest first: those the process manager still drives (status
/// `running`, `compensating` or `refunding`) whose deadline is before `overdue_before` (the
/// caller's now minus `checkout.stuck_after_secs`). `after` is the `next` of the previous page;
/// `limit` is clamped to 1..=500.
pub async fn stuck(
    pool: &PgPool,
    overdue_before: DateTime<Utc>,
    after: Option<i64>,
    limit: u32,
) -> Result<CheckoutPage, ReadError> {
    let limit = page_limit(limit);
    let sql = format!(
        "SELECT {CHECKOUT_COLUMNS} FROM rm_checkouts \
         WHERE status = ANY($1) AND deadline_at < $2 \
           AND ($3::int8 IS NULL OR started_position > $3) \
         ORDER BY started_position LIMIT $4"
    );
    let rows: Vec<CheckoutRow> = sqlx::query_as(&sql)
        .bind(in_flight_statuses().as_slice())
        .bind(overdue_before)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let full = rows.len() as i64 == limit;
    let checkouts = with_timeline(pool, rows).await?;
    let next = if full {
        checkouts.last().map(|checkout| checkout.cursor)
    } else {
        None
    };
    Ok(CheckoutPage { checkouts, next })
}

/// Loads the timelines of `rows` in one query and assembles the views, keeping the rows' order.
async fn with_timeline(
    pool: &PgPool,
    rows: Vec<CheckoutRow>,
) -> Result<Vec<CheckoutView>, ReadError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.order_id).collect();
    let entries: Vec<TimelineRow> = sqlx::query_as(
        "SELECT order_id, stream_version, kind, step, detail, at \
         FROM rm_checkout_timeline WHERE order_id = ANY($1) \
         ORDER BY order_id, stream_version",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let timeline = entries
                .iter()
                .filter(|entry| entry.order_id == row.order_id)
                .map(|entry| TimelineEntry {
                    version: entry.stream_version as u64,
                    kind: entry.kind.clone(),
                    step: entry.step.clone(),
                    detail: entry.detail.clone(),
                    at: entry.at,
                })
                .collect();
            checkout_view(row, timeline)
        })
        .collect()
}

fn checkout_view(
    row: CheckoutRow,
    timeline: Vec<TimelineEntry>,
) -> Result<CheckoutView, ReadError> {
    let currency = currency(&row.currency)?;
    let method = match row.method.as_str() {
        "balance" => PaymentMethod::Balance,
        "external" => PaymentMethod::External,
        other => return Err(ReadError::Corrupt(format!("checkout method {other:?}"))),
    };
    let status = statuses()
        .into_iter()
        .find(|status| *status == row.status)
        .ok_or_else(|| ReadError::Corrupt(format!("checkout status {:?}", row.status)))?;
    Ok(CheckoutView {
        order_id: OrderId(row.order_id),
        customer_id: CustomerId(row.customer_id),
        payment_id: PaymentId(row.payment_id),
        method,
        total: Money::new(row.total_minor, currency),
        status,
        reason: row.reason,
        deadline_at: row.deadline_at,
        started_at: row.started_at,
        updated_at: row.updated_at,
        timeline,
        cursor: row.started_position,
        stream_version: row.stream_version as u64,
    })
}
