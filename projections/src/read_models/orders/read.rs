//! The `orders` read model's readers and the views they return (layout in the parent module).

use aggregates::{CustomerId, Money, OrderId, PaymentId, ProductId, SkuId, order::OrderStatus};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::read_models::{ReadError, currency, page_limit};

fn parse_status(name: &str) -> Result<OrderStatus, ReadError> {
    OrderStatus::from_name(name).ok_or_else(|| ReadError::Corrupt(format!("order status {name:?}")))
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLineView {
    /// The product the SKU belongs to.
    pub product_id: ProductId,
    /// The SKU ordered.
    pub sku_id: SkuId,
    /// Title when the order was placed.
    pub title: String,
    /// Unit price when the order was placed.
    pub unit_price: Money,
    /// Units ordered.
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// When each transition happened (each event's own `at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTimeline {
    /// When the order was placed.
    pub placed_at: DateTime<Utc>,
    /// When its stock was reserved.
    pub stock_reserved_at: Option<DateTime<Utc>>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When it shipped.
    pub shipped_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When it was refunded.
    pub refunded_at: Option<DateTime<Utc>>,
    /// Time of the last event applied.
    pub updated_at: DateTime<Utc>,
}

/// An order as the query services show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    /// The order's id.
    pub order_id: OrderId,
    /// Who placed it.
    pub customer_id: CustomerId,
    /// Where it is in its lifecycle.
    pub status: OrderStatus,
    /// Sum of the line totals.
    pub total: Money,
    /// Lines in the order they were placed.
    pub lines: Vec<OrderLineView>,
    /// Sum of the line quantities.
    pub item_count: u64,
    /// The payment that paid (or was refunded for) the order.
    pub payment_id: Option<PaymentId>,
    /// Amount captured, once paid.
    pub paid: Option<Money>,
    /// Amount refunded, once refunded.
    pub refunded: Option<Money>,
    /// Why it was cancelled, if it was.
    pub cancel_reason: Option<String>,
    /// For a cancelled order: whether stock had been reserved (and is to be released).
    pub cancelled_with_stock_reserved: Option<bool>,
    /// Why it was refunded, if it was.
    pub refund_reason: Option<String>,
    /// For a refunded order: whether it had shipped.
    pub refunded_after_shipping: Option<bool>,
    /// When each transition happened.
    pub timeline: OrderTimeline,
    /// Paging cursor: the global position of `OrderPlaced`.
    pub cursor: i64,
    /// Version of the order stream this row reflects.
    pub stream_version: u64,
}

/// One page of [`list_for_customer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    /// The page's orders, newest first.
    pub orders: Vec<OrderView>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    customer_id: Uuid,
    status: String,
    currency: String,
    total_minor: i64,
    item_count: i64,
    payment_id: Option<Uuid>,
    paid_minor: Option<i64>,
    refunded_minor: Option<i64>,
    cancel_reason: Option<String>,
    cancelled_with_stock_reserved: Option<bool>,
    refund_reason: Option<String>,
    refunded_after_shipping: Option<bool>,
    placed_at: DateTime<Utc>,
    stock_reserved_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    shipped_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    refunded_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    placed_position: i64,
    stream_version: i64,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    order_id: Uuid,
    product_id: Uuid,
    sku_id: Uuid,
    title: String,
    unit_price_minor: i64,
    currency: String,
    quantity: i32,
    line_total_minor: i64,
}

const ORDER_COLUMNS: &str = "order_id, customer_id, status, currency, total_minor, item_count, \
    payment_id, paid_minor, refunded_minor, cancel_reason, cancelled_with_stock_reserved, \
    refund_reason, refunded_after_shipping, placed_at, stock_reserved_at, paid_at, shipped_at, \
    cancelled_at, refunded_at, updated_at, placed_position, stream_version";

/// The order `order_id` with its lines, if the read model has seen it placed.
pub async fn get(pool: &PgPool, order_id: OrderId) -> Result<Option<OrderView>, ReadError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM rm_orders WHERE order_id = $1");
    let row: Option<OrderRow> = sqlx::query_as(&sql)
        .bind(order_id.0)
        .fetch_optional(pool)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => Ok(with_lines(pool, vec![row]).await?.pop()),
    }
}

/// A customer's orders, newest first, optionally only those in `status`; `after` is the `next`
/// of the previous page. `limit` is clamped to 1..=500.
pub async fn list_for_customer(
    pool: &PgPool,
    customer_id: CustomerId,
    status: Option<OrderStatus>,
    after: Option<i64>,
    limit: u32,
) -> Result<OrderPage, ReadError> {
    let limit = page_limit(limit);
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM rm_orders \
         WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2) \
           AND ($3::int8 IS NULL OR placed_position < $3) \
         ORDER BY placed_position DESC LIMIT $4"
    );
    let rows: Vec<OrderRow> = sqlx::query_as(&sql)
        .bind(customer_id.0)
        .bind(status.map(OrderStatus::name))
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let full = rows.len() as i64 == limit;
    let orders = with_lines(pool, rows).await?;
    let next = if full {
        orders.last().map(|order| order.cursor)
    } else {
        None
    };
    Ok(OrderPage { orders, next })
}

/// Loads the lines of `rows` in one query and assembles the views, keeping the rows' order.
async fn with_lines(pool: &PgPool, rows: Vec<OrderRow>) -> Result<Vec<OrderView>, ReadError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.order_id).collect();
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT order_id, product_id, sku_id, title, unit_price_minor, currency, quantity, \
             line_total_minor \
         FROM rm_order_lines WHERE order_id = ANY($1) ORDER BY order_id, line_no",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let own = lines.iter().filter(|line| line.order_id == row.order_id);
            let lines = own.map(line_view).collect::<Result<Vec<_>, _>>()?;
            order_view(row, lines)
        })
        .collect()
}

fn line_view(line: &LineRow) -> Result<OrderLineView, ReadError> {
    let currency = currency(&line.currency)?;
    Ok(OrderLineView {
        product_id: ProductId(line.product_id),
        sku_id: SkuId(line.sku_id),
        title: line.title.clone(),
        unit_price: Money::new(line.unit_price_minor, currency),
        quantity: u32::try_from(line.quantity).unwrap_or_default(),
        line_total: Money::new(line.line_total_minor, currency),
    })
}

fn order_view(row: OrderRow, lines: Vec<OrderLineView>) -> Result<OrderView, ReadError> {
    let currency = currency(&row.currency)?;
    let money = |minor: Option<i64>| minor.map(|minor| Money::new(minor, currency));
    Ok(OrderView {
        order_id: OrderId(row.order_id),
        customer_id: CustomerId(row.customer_id),
        status: parse_status(&row.status)?,
        total: Money::new(row.total_minor, currency),
        lines,
        item_count: row.item_count as u64,
        payment_id: row.payment_id.map(PaymentId),
        paid: money(row.paid_minor),
        refunded: money(row.refunded_minor),
        cancel_reason: row.cancel_reason,
        cancelled_with_stock_reserved: row.cancelled_with_stock_reserved,
        refund_reason: row.refund_reason,
        refunded_after_shipping: row.refunded_after_shipping,
        timeline: OrderTimeline {
            placed_at: row.placed_at,
            stock_reserved_at: row.stock_reserved_at,
            paid_at: row.paid_at,
            shipped_at: row.shipped_at,
            cancelled_at: row.cancelled_at,
            refunded_at: row.refunded_at,
            updated_at: row.updated_at,
        },
        cursor: row.placed_position,
        stream_version: row.stream_version as u64,
    })
}
