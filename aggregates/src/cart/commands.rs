//! What a caller can ask of a cart.

use chrono::{DateTime, Utc};

use crate::{
    ids::{CustomerId, ProductId, SkuId},
    money::Money,
};

/// A command to a customer's cart. Each carries the cart's `customer_id`, which must match the
/// stream it is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartCommand {
    /// Adds `quantity` items of a SKU: a new line, or more on the existing line.
    AddItem {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The SKU's product (needed later to reserve stock in the right stream).
        product_id: ProductId,
        /// The SKU.
        sku_id: SkuId,
        /// Items to add, 1..=99; the line must stay within 99.
        quantity: u32,
        /// Title to show, as looked up.
        title: String,
        /// Current unit price, as looked up; the line takes this price.
        unit_price: Money,
        /// Whether the SKU is on sale, as looked up.
        sku_active: bool,
        /// Available stock, as looked up; the line may not exceed it.
        available_stock: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Sets a line's quantity (1..=99; use `RemoveItem` to remove). The same quantity changes
    /// nothing.
    ChangeQuantity {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The line's SKU.
        sku_id: SkuId,
        /// New quantity.
        quantity: u32,
        /// Available stock, as looked up; checked only when the quantity grows.
        available_stock: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Removes a line.
    RemoveItem {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The line's SKU.
        sku_id: SkuId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Removes every line (e.g. after checkout). Clearing an empty cart changes nothing.
    Clear {
        /// The cart's owner.
        customer_id: CustomerId,
        /// When.
        at: DateTime<Utc>,
    },
}
