//! What happened to a cart, and how it is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::domain_event,
    ids::{CustomerId, ProductId, SkuId},
    money::Money,
};

/// What happened to a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartEvent {
    /// Items were added: a new line, or more on an existing one (which takes the new price and
    /// title).
    CartItemAdded {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The SKU's product.
        product_id: ProductId,
        /// The SKU.
        sku_id: SkuId,
        /// Title shown.
        title: String,
        /// Unit price of the line now.
        unit_price: Money,
        /// Items added.
        quantity: u32,
        /// Items on the line now.
        line_quantity: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// A line's quantity was set.
    CartItemQuantityChanged {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The line's SKU.
        sku_id: SkuId,
        /// Items on the line now.
        quantity: u32,
        /// Items on the line before.
        previous_quantity: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// A line was removed.
    CartItemRemoved {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The removed line's SKU.
        sku_id: SkuId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Every line was removed.
    CartCleared {
        /// The cart's owner.
        customer_id: CustomerId,
        /// When.
        at: DateTime<Utc>,
    },
}

domain_event!(CartEvent {
    CartItemAdded = 1,
    CartItemQuantityChanged = 1,
    CartItemRemoved = 1,
    CartCleared = 1,
});
