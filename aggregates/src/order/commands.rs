//! What a caller can ask of an order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ids::{CustomerId, OrderId, PaymentId, ProductId, SkuId},
    money::Money,
    payment::PaymentMethod,
};

/// A command to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Places the order from a snapshot of the cart with the prices to charge.
    PlaceOrder {
        /// The new order's id (also the stock reservation id).
        order_id: OrderId,
        /// The buyer.
        customer_id: CustomerId,
        /// 1..=100 lines, each SKU once, all prices in one currency.
        lines: Vec<OrderLine>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Places the order as [`PlaceOrder`](Self::PlaceOrder) does and asks for it to be paid by
    /// `payment_method`: the checkout process manager takes it from there
    /// (`docs/checkout.md`).
    Checkout {
        /// The new order's id (also the checkout's and the stock reservation's id).
        order_id: OrderId,
        /// The buyer.
        customer_id: CustomerId,
        /// As for `PlaceOrder`.
        lines: Vec<OrderLine>,
        /// How the customer pays.
        payment_method: PaymentMethod,
        /// When.
        at: DateTime<Utc>,
    },
    /// Records that every product reserved the order's stock.
    MarkStockReserved {
        /// When.
        at: DateTime<Utc>,
    },
    /// Records that `payment_id` captured exactly the order total.
    MarkPaid {
        /// The captured payment.
        payment_id: PaymentId,
        /// Must equal the order total.
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Cancels an order before it ships: an unpaid one is cancelled; a paid one is refunded (its
    /// money and stock come back through the checkout process manager).
    Cancel {
        /// Why, non-empty (e.g. `insufficient stock`, `payment failed`).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Records that the goods left the warehouse.
    Ship {
        /// When.
        at: DateTime<Utc>,
    },
    /// Refunds the whole order after payment.
    Refund {
        /// Why, non-empty.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A line as ordered: what the cart snapshot provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The SKU's product (the stream where its stock is reserved).
    pub product_id: ProductId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Title at ordering time.
    pub title: String,
    /// Unit price charged, positive.
    pub unit_price: Money,
    /// Items, 1..=99.
    pub quantity: u32,
}
