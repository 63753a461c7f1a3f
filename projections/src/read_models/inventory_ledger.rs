//! Read model `inventory_ledger` (PostgreSQL, category `product`): every stock movement, one
//! row per SKU per stock event.
//!
//! Table `rm_inventory_ledger`, primary key `(position, item_no)` (global position of the event,
//! index of the SKU within it): `product_id`, `sku_id`, `movement`, `quantity`, the deltas, the
//! SKU's levels after the movement (`on_hand`, `reserved`, `available`, carried by the events),
//! `reservation_id` (none for a restock), `stream_version` and `at` (the event's time). Index
//! `(sku_id, position)` serves [`for_sku`].
//!
//! | event | movement | Δ on hand | Δ reserved |
//! |---|---|---|---|
//! | `SkuRestocked` | `restock` | +q | 0 |
//! | `StockReserved` | `reserve` | 0 | +q |
//! | `StockReleased` | `release` | 0 | −q |
//! | `StockCommitted` | `commit` | −q | −q |
//! | `StockReturned` | `return` | +q | 0 |
//!
//! Other product events (creation, SKUs added, discontinuations) move no stock: no rows.

use aggregates::{
    ProductId, ReservationId, SkuId,
    product::{ProductEvent, StockChange},
};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{ReadError, decode, int8, page_limit, registry};
use crate::{PostgresProjection, ProjectionError};

/// The `inventory_ledger` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct InventoryLedger;

impl PostgresProjection for InventoryLedger {
    fn name(&self) -> &'static str {
        registry::INVENTORY_LEDGER.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::INVENTORY_LEDGER.categories
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_inventory_ledger"]
    }

    fn ddl(&self) -> &'static str {
        include_str!("ddl/inventory_ledger.sql")
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }

    /// The rows of every stock event of the batch in one multi-row `INSERT … SELECT FROM
    /// unnest(…)`: the ledger only inserts, one row per SKU per event, so the rows are the ones
    /// [`PostgresProjection::apply`] would insert event by event, in one statement.
    fn apply_all<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply_all(tx, events))
    }
}

/// What kind of stock movement a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Items received.
    Restock,
    /// Items held for a reservation.
    Reserve,
    /// A reservation's items made available again.
    Release,
    /// A reservation's items left stock.
    Commit,
    /// A committed reservation's items came back on hand (a sale undone before shipping).
    Return,
}

impl Movement {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restock => "restock",
            Self::Reserve => "reserve",
            Self::Release => "release",
            Self::Commit => "commit",
            Self::Return => "return",
        }
    }

    fn parse(name: &str) -> Result<Self, ReadError> {
        Ok(match name {
            "restock" => Self::Restock,
            "reserve" => Self::Reserve,
            "release" => Self::Release,
            "commit" => Self::Commit,
            "return" => Self::Return,
            other => return Err(ReadError::Corrupt(format!("stock movement {other:?}"))),
        })
    }

    /// `(Δ on hand, Δ reserved)` for `quantity` items.
    fn deltas(self, quantity: i64) -> (i64, i64) {
        match self {
            Self::Restock => (quantity, 0),
            Self::Reserve => (0, quantity),
            Self::Release => (0, -quantity),
            Self::Commit => (-quantity, -quantity),
            Self::Return => (quantity, 0),
        }
    }
}

/// One ledger row, as bound to the insert.
struct NewRow {
    position: i64,
    item_no: i32,
    product_id: Uuid,
    sku_id: Uuid,
    movement: Movement,
    quantity: i64,
    delta_on_hand: i64,
    delta_reserved: i64,
    on_hand: i64,
    reserved: i64,
    available: i64,
    reservation_id: Option<Uuid>,
    stream_version: i64,
    at: DateTime<Utc>,
}

/// The rows `event` adds to the ledger (none for an event that moves no stock).
fn rows(event: &RecordedEvent) -> Result<Vec<NewRow>, ProjectionError> {
    let Some(decoded) = decode::<ProductEvent>(event)? else {
        return Ok(Vec::new());
    };
    let (product_id, movement, reservation, items, at) = match decoded {
        ProductEvent::SkuRestocked {
            product_id,
            sku_id,
            quantity,
            on_hand,
            reserved,
            available,
            at,
        } => {
            let item = StockChange {
                sku_id,
                quantity,
                on_hand,
                reserved,
                available,
            };
            (product_id, Movement::Restock, None, vec![item], at)
        }
        ProductEvent::StockReserved {
            product_id,
            reservation_id,
            items,
            at,
        } => (
            product_id,
            Movement::Reserve,
            Some(reservation_id),
            items,
            at,
        ),
        ProductEvent::StockReleased {
            product_id,
            reservation_id,
            items,
            at,
        } => (
            product_id,
            Movement::Release,
            Some(reservation_id),
            items,
            at,
        ),
        ProductEvent::StockCommitted {
            product_id,
            reservation_id,
            items,
            at,
        } => (
            product_id,
            Movement::Commit,
            Some(reservation_id),
            items,
            at,
        ),
        ProductEvent::StockReturned {
            product_id,
            reservation_id,
            items,
            at,
        } => (
            product_id,
            Movement::Return,
            Some(reservation_id),
            items,
            at,
        ),
        ProductEvent::ProductCreated { .. }
        | ProductEvent::SkuAdded { .. }
        | ProductEvent::ProductDiscontinued { .. }
        | ProductEvent::SkuDiscontinued { .. } => return Ok(Vec::new()),
    };
    Ok(items
        .iter()
        .enumerate()
        .map(|(item_no, item)| {
            let (delta_on_hand, delta_reserved) = movement.deltas(i64::from(item.quantity));
            NewRow {
                position: int8(event.position),
                item_no: i32::try_from(item_no).unwrap_or(i32::MAX),
                product_id: product_id.0,
                sku_id: item.sku_id.0,
                movement,
                quantity: i64::from(item.quantity),
                delta_on_hand,
                delta_reserved,
                on_hand: i64::from(item.on_hand),
                reserved: i64::from(item.reserved),
                available: i64::from(item.available),
                reservation_id: reservation.map(|id: ReservationId| id.0),
                stream_version: int8(event.version),
                at,
            }
        })
        .collect())
}

async fn apply(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    for row in rows(event)? {
        sqlx::query(
            "INSERT INTO rm_inventory_ledger (position, item_no, product_id, sku_id, movement, \
                 quantity, delta_on_hand, delta_reserved, on_hand, reserved, available, \
                 reservation_id, stream_version, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(row.position)
        .bind(row.item_no)
        .bind(row.product_id)
        .bind(row.sku_id)
        .bind(row.movement.as_str())
        .bind(row.quantity)
        .bind(row.delta_on_hand)
        .bind(row.delta_reserved)
        .bind(row.on_hand)
        .bind(row.reserved)
        .bind(row.available)
        .bind(row.reservation_id)
        .bind(row.stream_version)
        .bind(row.at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Every row of `events` in one statement, one array per column (see `apply_all` above).
async fn apply_all(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), ProjectionError> {
    let mut all = Vec::with_capacity(events.len() * 2);
    for event in events {
        all.extend(rows(event)?);
    }
    if all.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO rm_inventory_ledger (position, item_no, product_id, sku_id, movement, \
             quantity, delta_on_hand, delta_reserved, on_hand, reserved, available, \
             reservation_id, stream_version, at) \
         SELECT * FROM unnest($1::int8[], $2::int4[], $3::uuid[], $4::uuid[], $5::text[], \
             $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], \
             $12::uuid[], $13::int8[], $14::timestamptz[])",
    )
    .bind(all.iter().map(|r| r.position).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.item_no).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.product_id).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.sku_id).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.movement.as_str()).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.quantity).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.delta_on_hand).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.delta_reserved).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.on_hand).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.reserved).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.available).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.reservation_id).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.stream_version).collect::<Vec<_>>())
    .bind(all.iter().map(|r| r.at).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One stock movement of one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Global position of the stock event: the order of the ledger and its paging cursor.
    pub position: i64,
    /// The product the SKU belongs to.
    pub product_id: ProductId,
    /// The SKU whose stock moved.
    pub sku_id: SkuId,
    /// What kind of movement it was.
    pub movement: Movement,
    /// Units moved.
    pub quantity: u32,
    /// Change of the on-hand level (negative when stock leaves).
    pub delta_on_hand: i64,
    /// Change of the reserved level.
    pub delta_reserved: i64,
    /// Levels after the movement.
    pub on_hand: u32,
    /// Reserved level after the movement.
    pub reserved: u32,
    /// Available level (`on_hand − reserved`) after the movement.
    pub available: u32,
    /// The reservation moved (usually the order id); `None` for a restock.
    pub reservation_id: Option<ReservationId>,
    /// Version of the product stream that recorded it.
    pub stream_version: u64,
    /// When it happened (the event's `at`).
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct LedgerRow {
    position: i64,
    product_id: Uuid,
    sku_id: Uuid,
    movement: String,
    quantity: i64,
    delta_on_hand: i64,
    delta_reserved: i64,
    on_hand: i64,
    reserved: i64,
    available: i64,
    reservation_id: Option<Uuid>,
    stream_version: i64,
    at: DateTime<Utc>,
}

/// Movements of `sku_id` in log order, after position `after` (the last `position` of the
/// previous page); `limit` is clamped to 1..=500.
pub async fn for_sku(
    pool: &PgPool,
    sku_id: SkuId,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<LedgerEntry>, ReadError> {
    let rows: Vec<LedgerRow> = sqlx::query_as(
        "SELECT position, product_id, sku_id, movement, quantity, delta_on_hand, \
             delta_reserved, on_hand, reserved, available, reservation_id, stream_version, at \
         FROM rm_inventory_ledger \
         WHERE sku_id = $1 AND ($2::int8 IS NULL OR position > $2) \
         ORDER BY position, item_no LIMIT $3",
    )
    .bind(sku_id.0)
    .bind(after)
    .bind(page_limit(limit))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(entry).collect()
}

fn entry(row: LedgerRow) -> Result<LedgerEntry, ReadError> {
    let count = |value: i64| u32::try_from(value).unwrap_or_default();
    Ok(LedgerEntry {
        position: row.position,
        product_id: ProductId(row.product_id),
        sku_id: SkuId(row.sku_id),
        movement: Movement::parse(&row.movement)?,
        quantity: count(row.quantity),
        delta_on_hand: row.delta_on_hand,
        delta_reserved: row.delta_reserved,
        on_hand: count(row.on_hand),
        reserved: count(row.reserved),
        available: count(row.available),
        reservation_id: row.reservation_id.map(ReservationId),
        stream_version: row.stream_version as u64,
        at: row.at,
    })
}
