//! Read model `orders` (PostgreSQL, category `order`): every order with its lines, status and
//! the time of each transition.
//!
//! - `rm_orders`, primary key `order_id`: `customer_id`, `status` (an [`OrderStatus::name`]),
//!   `total_minor` + `currency`, `line_count`, `item_count`, `payment_id` / `paid_minor` (from
//!   `OrderPaid`), `refunded_minor` / `refund_reason` / `refunded_after_shipping` (from
//!   `OrderRefunded`), `cancel_reason` / `cancelled_with_stock_reserved` (from
//!   `OrderCancelled`), one timestamp per transition, `<status>_at` (`placed_at`,
//!   `stock_reserved_at`, `paid_at`, `shipped_at`, `cancelled_at`, `refunded_at`, each the
//!   event's `at`), `updated_at`, `placed_position` (global position of `OrderPlaced`) and
//!   `stream_version`.
//!   Indexes `(customer_id, placed_position DESC)` and `(customer_id, status, placed_position
//!   DESC)` serve [`list_for_customer`].
//! - `rm_order_lines`, primary key `(order_id, line_no)`: the priced lines of `OrderPlaced` in
//!   their order (`line_no` from 0): product, SKU, title, unit price, quantity, line total.
//!
//! Readers: [`get`], [`list_for_customer`] (newest first, cursor = `placed_position`).

use aggregates::{
    OrderId,
    order::{OrderEvent, OrderStatus},
};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::{decode, int8, registry};
use crate::{PostgresProjection, ProjectionError};

mod read;

pub use read::{OrderLineView, OrderPage, OrderTimeline, OrderView, get, list_for_customer};

/// The `orders` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orders;

impl PostgresProjection for Orders {
    fn name(&self) -> &'static str {
        registry::ORDERS.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::ORDERS.categories
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_orders", "rm_order_lines"]
    }

    fn ddl(&self) -> &'static str {
        include_str!("ddl/orders.sql")
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }
}

async fn apply(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let Some(decoded) = decode::<OrderEvent>(event)? else {
        return Ok(());
    };
    let version = int8(event.version);
    // Every event touches exactly one order row; anything else contradicts the model.
    let (order_id, rows) = match decoded {
        OrderEvent::OrderPlaced {
            order_id,
            customer_id,
            lines,
            total,
            at,
            // Whether the checkout process manager took over is the `checkouts` model's concern.
            payment_method: _,
        } => {
            let items: i64 = lines.iter().map(|line| i64::from(line.quantity)).sum();
            let rows = sqlx::query(
                "INSERT INTO rm_orders (order_id, customer_id, status, currency, total_minor, \
                     line_count, item_count, placed_at, updated_at, placed_position, \
                     stream_version) \
                 VALUES ($1, $2, $10, $3, $4, $5, $6, $7, $7, $8, $9) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(order_id.0)
            .bind(customer_id.0)
            .bind(total.currency().to_string())
            .bind(total.amount_minor())
            .bind(i32::try_from(lines.len()).unwrap_or(i32::MAX))
            .bind(items)
            .bind(at)
            .bind(int8(event.position))
            .bind(version)
            .bind(OrderStatus::Placed.name())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            for (line_no, line) in lines.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO rm_order_lines (order_id, line_no, product_id, sku_id, title, \
                         unit_price_minor, currency, quantity, line_total_minor) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(order_id.0)
                .bind(i32::try_from(line_no).unwrap_or(i32::MAX))
                .bind(line.product_id.0)
                .bind(line.sku_id.0)
                .bind(&line.title)
                .bind(line.unit_price.amount_minor())
                .bind(line.unit_price.currency().to_string())
                .bind(i32::try_from(line.quantity).unwrap_or(i32::MAX))
                .bind(line.line_total.amount_minor())
                .execute(&mut *tx)
                .await?;
            }
            (order_id, rows)
        }
        OrderEvent::OrderStockReserved { order_id, at } => {
            let rows = transition(tx, order_id, OrderStatus::StockReserved, at, version).await?;
            (order_id, rows)
        }
        OrderEvent::OrderShipped { order_id, at } => {
            let rows = transition(tx, order_id, OrderStatus::Shipped, at, version).await?;
            (order_id, rows)
        }
        OrderEvent::OrderPaid {
            order_id,
            payment_id,
            amount,
            at,
        } => {
            let rows = sqlx::query(
                "UPDATE rm_orders SET status = $7, paid_at = $3, updated_at = $3, \
                     stream_version = $4, payment_id = $5, paid_minor = $6 \
                 WHERE order_id = $1 AND currency = $2",
            )
            .bind(order_id.0)
            .bind(amount.currency().to_string())
            .bind(at)
            .bind(version)
            .bind(payment_id.0)
            .bind(amount.amount_minor())
            .bind(OrderStatus::Paid.name())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (order_id, rows)
        }
        OrderEvent::OrderCancelled {
            order_id,
            reason,
            stock_reserved,
            at,
        } => {
            let rows = sqlx::query(
                "UPDATE rm_orders SET status = $6, cancelled_at = $2, updated_at = $2, \
                     stream_version = $3, cancel_reason = $4, \
                     cancelled_with_stock_reserved = $5 \
                 WHERE order_id = $1",
            )
            .bind(order_id.0)
            .bind(at)
            .bind(version)
            .bind(reason)
            .bind(stock_reserved)
            .bind(OrderStatus::Cancelled.name())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (order_id, rows)
        }
        OrderEvent::OrderRefunded {
            order_id,
            payment_id,
            amount,
            reason,
            shipped,
            at,
        } => {
            let rows = sqlx::query(
                "UPDATE rm_orders SET status = $9, refunded_at = $3, updated_at = $3, \
                     stream_version = $4, payment_id = $5, refunded_minor = $6, \
                     refund_reason = $7, refunded_after_shipping = $8 \
                 WHERE order_id = $1 AND currency = $2",
            )
            .bind(order_id.0)
            .bind(amount.currency().to_string())
            .bind(at)
            .bind(version)
            .bind(payment_id.0)
            .bind(amount.amount_minor())
            .bind(reason)
            .bind(shipped)
            .bind(OrderStatus::Refunded.name())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (order_id, rows)
        }
    };
    if rows == 1 {
        Ok(())
    } else {
        Err(ProjectionError::Inconsistent(format!(
            "{} for order {order_id} does not fit the orders read model",
            event.event_type
        )))
    }
}

/// A transition to `status` that sets nothing else but its time (column `<status>_at`, e.g.
/// `shipped_at`) and the stream bookkeeping.
async fn transition(
    tx: &mut PgConnection,
    order_id: OrderId,
    status: OrderStatus,
    at: DateTime<Utc>,
    version: i64,
) -> Result<u64, sqlx::Error> {
    // The column name comes from `OrderStatus::name`, never from input.
    let sql = format!(
        "UPDATE rm_orders SET status = $4, {}_at = $3, updated_at = $3, stream_version = $2 \
         WHERE order_id = $1",
        status.name()
    );
    Ok(sqlx::query(&sql)
        .bind(order_id.0)
        .bind(version)
        .bind(at)
        .bind(status.name())
        .execute(tx)
        .await?
        .rows_affected())
}
