//! What a caller can ask of a product.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ids::{ProductId, ReservationId, SkuId},
    money::Money,
};

/// A command to the product aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    /// Creates the product (no SKUs yet).
    CreateProduct {
        /// The new product's id.
        product_id: ProductId,
        /// Catalog title, non-empty.
        title: String,
        /// Free text, may be empty.
        description: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Adds a purchasable variant with no stock. SKU ids must be unique across products; the
    /// aggregate can only check its own SKUs, so the caller mints fresh UUIDs.
    AddSku {
        /// The new SKU's id.
        sku_id: SkuId,
        /// Unit price, positive.
        price: Money,
        /// E.g. `{"size": "M", "colour": "red"}`.
        attributes: BTreeMap<String, String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Adds `quantity` (> 0) items to a SKU's stock on hand.
    RestockSku {
        /// The SKU.
        sku_id: SkuId,
        /// Items received.
        quantity: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Holds stock of one or more SKUs of this product for `reservation_id`, all or nothing.
    ReserveStock {
        /// Unused in this product; usually the order id.
        reservation_id: ReservationId,
        /// SKUs and quantities, each SKU once.
        items: Vec<StockLine>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Gives a reservation's stock back (the order was cancelled or refunded before shipping).
    ReleaseStock {
        /// An open reservation.
        reservation_id: ReservationId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Turns a reservation into a sale: the items leave stock on hand (the order shipped).
    CommitStock {
        /// An open reservation.
        reservation_id: ReservationId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Puts a committed reservation's items back on hand: the sale was undone before the goods
    /// left (a paid order cancelled before shipping). Once per reservation.
    ReturnStock {
        /// A committed reservation.
        reservation_id: ReservationId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Withdraws the product and every SKU of it from sale.
    DiscontinueProduct {
        /// When.
        at: DateTime<Utc>,
    },
    /// Withdraws one SKU from sale.
    DiscontinueSku {
        /// The SKU.
        sku_id: SkuId,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A quantity of one SKU (a line of a reservation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    /// The SKU.
    pub sku_id: SkuId,
    /// How many items, > 0.
    pub quantity: u32,
}
