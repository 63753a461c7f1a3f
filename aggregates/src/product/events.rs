//! What happened to a product, and how it is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StockLine;
use crate::{
    event::domain_event,
    ids::{ProductId, ReservationId, SkuId},
    money::Money,
};

/// An event of the product aggregate. Stock events carry the SKU's new levels, so a reader
/// never has to recompute them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductEvent {
    /// The product was created.
    ProductCreated {
        /// The product.
        product_id: ProductId,
        /// Catalog title.
        title: String,
        /// Free text.
        description: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A SKU was added, with no stock.
    SkuAdded {
        /// The product.
        product_id: ProductId,
        /// The new SKU.
        sku_id: SkuId,
        /// Unit price.
        price: Money,
        /// Variant attributes.
        attributes: BTreeMap<String, String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Items were received into a SKU's stock.
    SkuRestocked {
        /// The product.
        product_id: ProductId,
        /// The SKU.
        sku_id: SkuId,
        /// Items received.
        quantity: u32,
        /// Stock on hand now.
        on_hand: u32,
        /// Stock reserved now.
        reserved: u32,
        /// Stock available for reservation now (`on_hand − reserved`).
        available: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stock was reserved for `reservation_id`.
    StockReserved {
        /// The product.
        product_id: ProductId,
        /// The reservation (usually the order id).
        reservation_id: ReservationId,
        /// Per SKU: quantity reserved and the new levels.
        items: Vec<StockChange>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A reservation was released: its stock is available again.
    StockReleased {
        /// The product.
        product_id: ProductId,
        /// The reservation.
        reservation_id: ReservationId,
        /// Per SKU: quantity released and the new levels.
        items: Vec<StockChange>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A reservation was committed: its items left stock on hand.
    StockCommitted {
        /// The product.
        product_id: ProductId,
        /// The reservation.
        reservation_id: ReservationId,
        /// Per SKU: quantity committed and the new levels.
        items: Vec<StockChange>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A committed reservation's items came back on hand (the sale was undone before shipping).
    StockReturned {
        /// The product.
        product_id: ProductId,
        /// The reservation.
        reservation_id: ReservationId,
        /// Per SKU: quantity returned and the new levels.
        items: Vec<StockChange>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The product and all its SKUs were withdrawn from sale.
    ProductDiscontinued {
        /// The product.
        product_id: ProductId,
        /// SKUs that were still on sale and are now discontinued too.
        discontinued_skus: Vec<SkuId>,
        /// When.
        at: DateTime<Utc>,
    },
    /// One SKU was withdrawn from sale.
    SkuDiscontinued {
        /// The product.
        product_id: ProductId,
        /// The SKU.
        sku_id: SkuId,
        /// When.
        at: DateTime<Utc>,
    },
}

/// One SKU's part of a stock event: the quantity moved and the SKU's levels afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    /// The SKU.
    pub sku_id: SkuId,
    /// Items reserved, released or committed.
    pub quantity: u32,
    /// Stock on hand now.
    pub on_hand: u32,
    /// Stock reserved now.
    pub reserved: u32,
    /// Stock available for reservation now (`on_hand − reserved`).
    pub available: u32,
}

impl StockChange {
    /// `line` moved, leaving `on_hand` and `reserved`.
    pub(crate) fn new(line: &StockLine, on_hand: u32, reserved: u32) -> Self {
        Self {
            sku_id: line.sku_id,
            quantity: line.quantity,
            on_hand,
            reserved,
            available: on_hand.saturating_sub(reserved),
        }
    }
}

domain_event!(ProductEvent {
    ProductCreated = 1,
    SkuAdded = 1,
    SkuRestocked = 1,
    StockReserved = 1,
    StockReleased = 1,
    StockCommitted = 1,
    StockReturned = 1,
    ProductDiscontinued = 1,
    SkuDiscontinued = 1,
});
