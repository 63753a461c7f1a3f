//! What happened to an order, and how it is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::domain_event,
    ids::{CustomerId, OrderId, PaymentId, ProductId, SkuId},
    money::Money,
    payment::PaymentMethod,
};

/// A line of a placed order, with its computed total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The SKU's product.
    pub product_id: ProductId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Title at ordering time.
    pub title: String,
    /// Unit price charged.
    pub unit_price: Money,
    /// Items.
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// What happened to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The order was placed, with its priced lines and total.
    OrderPlaced {
        /// The order.
        order_id: OrderId,
        /// The buyer.
        customer_id: CustomerId,
        /// Lines with their totals.
        lines: Vec<PricedLine>,
        /// Sum of the line totals.
        total: Money,
        /// Set when the order was placed by a checkout: how the customer pays. The checkout
        /// process manager starts on it; absent for orders driven by hand. (Added without a
        /// schema version: older events read as `None`.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_method: Option<PaymentMethod>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stock for every line is reserved.
    OrderStockReserved {
        /// The order.
        order_id: OrderId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The order total was paid.
    OrderPaid {
        /// The order.
        order_id: OrderId,
        /// The payment.
        payment_id: PaymentId,
        /// Amount paid (the total).
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// The goods left the warehouse.
    OrderShipped {
        /// The order.
        order_id: OrderId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The order was cancelled before payment.
    OrderCancelled {
        /// The order.
        order_id: OrderId,
        /// Why.
        reason: String,
        /// Whether stock was reserved (and must now be released).
        stock_reserved: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// The whole order was refunded (by the service, or by its customer cancelling it after
    /// payment, before shipping).
    OrderRefunded {
        /// The order.
        order_id: OrderId,
        /// The payment to refund.
        payment_id: PaymentId,
        /// Amount refunded (the total).
        amount: Money,
        /// Why.
        reason: String,
        /// Whether it had shipped (stock committed) or not (stock still reserved).
        shipped: bool,
        /// When.
        at: DateTime<Utc>,
    },
}

domain_event!(OrderEvent {
    OrderPlaced = 1,
    OrderStockReserved = 1,
    OrderPaid = 1,
    OrderShipped = 1,
    OrderCancelled = 1,
    OrderRefunded = 1,
});
