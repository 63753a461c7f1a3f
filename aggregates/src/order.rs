//! Order: placed from a cart snapshot, then driven by the checkout saga through an explicit
//! state machine.
//!
//! ```text
//!   PlaceOrder        MarkStockReserved            MarkPaid              Ship
//!  ──────────▶ Placed ─────────────────▶ StockReserved ──────▶ Paid ──────────▶ Shipped
//!                │                           │                  │                  │
//!                │ Cancel                    │ Cancel           │ Refund           │ Refund
//!                ▼                           ▼                  ▼                  ▼
//!            Cancelled  ◀────────────────────┘              Refunded  ◀────────────┘
//! ```
//!
//! - Cancel is possible until payment: afterwards money has moved and only a refund undoes it.
//!   `OrderCancelled.stock_reserved` tells the saga whether stock must be released.
//! - Refund is of the whole order, from Paid (stock still reserved: the saga releases it) or
//!   Shipped (goods returned: stock was committed; restocking is a separate, manual act).
//!   `OrderRefunded.shipped` says which. Partial refunds are a payment matter, not an order one.
//! - Payment is accepted only after stock is reserved, and only for exactly the order total.
//! - Cancelled and Refunded are final; any command not in the diagram is an
//!   [`IllegalTransition`](DomainError::IllegalTransition), never a panic.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    aggregate::Aggregate,
    cart::{MAX_LINE_QUANTITY, MAX_LINES},
    error::DomainError,
    ids::{CustomerId, OrderId, PaymentId, ProductId, SkuId},
    money::Money,
    rules,
};

mod events;
#[cfg(test)]
mod tests;

pub use events::{OrderEvent, PricedLine};

/// The order aggregate (stream `order-<order id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order;

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
    /// Cancels an unpaid order.
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

/// Where an order is in its life (see the module's diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Waiting for stock.
    Placed,
    /// Stock held; waiting for payment.
    StockReserved,
    /// Paid; waiting for shipping.
    Paid,
    /// On its way.
    Shipped,
    /// Cancelled before payment (final).
    Cancelled,
    /// Refunded after payment (final).
    Refunded,
}

impl OrderStatus {
    /// Lowercase name, as used in error messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::StockReserved => "stock reserved",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }
}

/// An order's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OrderState {
    /// No events yet.
    #[default]
    NotPlaced,
    /// Placed, in any status since.
    Existing(OrderDetails),
}

/// A placed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetails {
    /// The order.
    pub order_id: OrderId,
    /// The buyer.
    pub customer_id: CustomerId,
    /// Lines with their totals.
    pub lines: Vec<PricedLine>,
    /// Sum of the line totals.
    pub total: Money,
    /// Current status.
    pub status: OrderStatus,
    /// The payment, once paid.
    pub payment_id: Option<PaymentId>,
}

impl Aggregate for Order {
    const CATEGORY: &'static str = "order";
    type Id = OrderId;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type State = OrderState;
    type Error = DomainError;

    fn decide(state: &OrderState, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        use OrderCommand::*;
        use OrderStatus as S;
        let event = match command {
            PlaceOrder {
                order_id,
                customer_id,
                lines,
                at,
            } => place(state, order_id, customer_id, lines, at)?,
            MarkStockReserved { at } => {
                let order = expect_status(state, "mark stock reserved", &[S::Placed])?;
                OrderEvent::OrderStockReserved {
                    order_id: order.order_id,
                    at,
                }
            }
            MarkPaid {
                payment_id,
                amount,
                at,
            } => {
                let order = expect_status(state, "mark paid", &[S::StockReserved])?;
                if amount != order.total {
                    return Err(DomainError::AmountMismatch {
                        expected: order.total,
                        actual: amount,
                    });
                }
                OrderEvent::OrderPaid {
                    order_id: order.order_id,
                    payment_id,
                    amount,
                    at,
                }
            }
            Ship { at } => {
                let order = expect_status(state, "ship", &[S::Paid])?;
                OrderEvent::OrderShipped {
                    order_id: order.order_id,
                    at,
                }
            }
            Cancel { reason, at } => {
                let order = expect_status(state, "cancel", &[S::Placed, S::StockReserved])?;
                OrderEvent::OrderCancelled {
                    order_id: order.order_id,
                    reason: rules::text("reason", &reason, rules::MAX_LONG_TEXT)?,
                    stock_reserved: order.status == S::StockReserved,
                    at,
                }
            }
            Refund { reason, at } => {
                let order = expect_status(state, "refund", &[S::Paid, S::Shipped])?;
                // Paid and Shipped orders always have a payment (OrderPaid sets it).
                let Some(payment_id) = order.payment_id else {
                    return Err(DomainError::IllegalTransition {
                        entity: "order",
                        status: "unpaid",
                        action: "refund",
                    });
                };
                OrderEvent::OrderRefunded {
                    order_id: order.order_id,
                    payment_id,
                    amount: order.total,
                    reason: rules::text("reason", &reason, rules::MAX_LONG_TEXT)?,
                    shipped: order.status == S::Shipped,
                    at,
                }
            }
        };
        Ok(vec![event])
    }

    fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
        use OrderEvent::*;
        let mut order = match (state, event) {
            (
                OrderState::NotPlaced,
                OrderPlaced {
                    order_id,
                    customer_id,
                    lines,
                    total,
                    ..
                },
            ) => {
                return OrderState::Existing(OrderDetails {
                    order_id: *order_id,
                    customer_id: *customer_id,
                    lines: lines.clone(),
                    total: *total,
                    status: OrderStatus::Placed,
                    payment_id: None,
                });
            }
            (OrderState::Existing(order), _) => order,
            // `decide` never writes anything else to an empty stream.
            (state, _) => return state,
        };
        match event {
            OrderPlaced { .. } => {}
            OrderStockReserved { .. } => order.status = OrderStatus::StockReserved,
            OrderPaid { payment_id, .. } => {
                order.status = OrderStatus::Paid;
                order.payment_id = Some(*payment_id);
            }
            OrderShipped { .. } => order.status = OrderStatus::Shipped,
            OrderCancelled { .. } => order.status = OrderStatus::Cancelled,
            OrderRefunded { .. } => order.status = OrderStatus::Refunded,
        }
        OrderState::Existing(order)
    }
}

fn place(
    state: &OrderState,
    order_id: OrderId,
    customer_id: CustomerId,
    lines: Vec<OrderLine>,
    at: DateTime<Utc>,
) -> Result<OrderEvent, DomainError> {
    if let OrderState::Existing(order) = state {
        return Err(DomainError::AlreadyExists {
            entity: "order",
            id: order.order_id.to_string(),
        });
    }
    let Some(first) = lines.first() else {
        return Err(DomainError::Invalid {
            field: "lines",
            reason: "must not be empty",
        });
    };
    if lines.len() > MAX_LINES {
        return Err(DomainError::Invalid {
            field: "lines",
            reason: "too many lines",
        });
    }
    let currency = first.unit_price.currency();
    let mut total = Money::zero(currency);
    let mut skus = BTreeSet::new();
    let mut priced = Vec::with_capacity(lines.len());
    for line in lines {
        if !skus.insert(line.sku_id) {
            return Err(DomainError::Invalid {
                field: "lines",
                reason: "must not repeat a sku",
            });
        }
        let quantity = rules::quantity("quantity", line.quantity, MAX_LINE_QUANTITY)?;
        let unit_price = rules::positive("unit_price", line.unit_price)?;
        if unit_price.currency() != currency {
            return Err(DomainError::MixedCurrencies {
                field: "lines",
                first: currency,
                other: unit_price.currency(),
            });
        }
        let line_total = unit_price.checked_mul(quantity)?;
        total = total.checked_add(&line_total)?;
        priced.push(PricedLine {
            product_id: line.product_id,
            sku_id: line.sku_id,
            title: rules::text("title", &line.title, rules::MAX_SHORT_TEXT)?,
            unit_price,
            quantity,
            line_total,
        });
    }
    Ok(OrderEvent::OrderPlaced {
        order_id,
        customer_id,
        lines: priced,
        total,
        at,
    })
}

/// The order, if it exists and is in one of `allowed`.
fn expect_status<'a>(
    state: &'a OrderState,
    action: &'static str,
    allowed: &[OrderStatus],
) -> Result<&'a OrderDetails, DomainError> {
    match state {
        OrderState::NotPlaced => Err(DomainError::NotCreated { entity: "order" }),
        OrderState::Existing(order) if allowed.contains(&order.status) => Ok(order),
        OrderState::Existing(order) => Err(DomainError::IllegalTransition {
            entity: "order",
            status: order.status.as_str(),
            action,
        }),
    }
}
