//! Order: placed from a cart snapshot, then driven by the checkout saga through an explicit
//! state machine.
//!
//! ```text
//!   PlaceOrder        MarkStockReserved            MarkPaid              Ship
//!   Checkout
//!  ──────────▶ Placed ─────────────────▶ StockReserved ──────▶ Paid ──────────▶ Shipped
//!                │                           │                  │                  │
//!                │ Cancel                    │ Cancel           │ Refund, Cancel   │ Refund
//!                ▼                           ▼                  ▼                  ▼
//!            Cancelled  ◀────────────────────┘              Refunded  ◀────────────┘
//! ```
//!
//! - `Checkout` places the order like `PlaceOrder` and records the payment method in
//!   `OrderPlaced`: the checkout process manager drives the rest (`docs/checkout.md`).
//! - Cancel before payment cancels (`OrderCancelled.stock_reserved` tells the saga whether stock
//!   must be released). Cancel of a paid order, before it ships, is a refund: money has moved.
//! - Refund is of the whole order, from Paid (the saga returns the stock, committed at payment)
//!   or Shipped (goods with the customer: restocking is a separate, manual act).
//!   `OrderRefunded.shipped` says which. Partial refunds are a payment matter, not an order one.
//! - Payment is accepted only after stock is reserved, and only for exactly the order total.
//! - Cancelled and Refunded are final; any command not in the diagram is an
//!   [`IllegalTransition`](DomainError::IllegalTransition), never a panic.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::{
    aggregate::Aggregate,
    cart::{MAX_LINE_QUANTITY, MAX_LINES},
    error::DomainError,
    ids::{CustomerId, OrderId},
    money::Money,
    payment::PaymentMethod,
    rules,
};

mod commands;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{OrderCommand, OrderLine};
pub use events::{OrderEvent, PricedLine};
pub use state::{OrderDetails, OrderState, OrderStatus};

/// The order aggregate (stream `order-<order id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order;

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
            } => place(state, order_id, customer_id, lines, None, at)?,
            Checkout {
                order_id,
                customer_id,
                lines,
                payment_method,
                at,
            } => place(
                state,
                order_id,
                customer_id,
                lines,
                Some(payment_method),
                at,
            )?,
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
                let order =
                    expect_status(state, "cancel", &[S::Placed, S::StockReserved, S::Paid])?;
                if order.status == S::Paid {
                    // Money has moved: cancelling before shipping is a refund.
                    refund(order, &reason, at)?
                } else {
                    OrderEvent::OrderCancelled {
                        order_id: order.order_id,
                        reason: rules::text("reason", &reason, rules::MAX_LONG_TEXT)?,
                        stock_reserved: order.status == S::StockReserved,
                        at,
                    }
                }
            }
            Refund { reason, at } => {
                let order = expect_status(state, "refund", &[S::Paid, S::Shipped])?;
                refund(order, &reason, at)?
            }
        };
        Ok(vec![event])
    }

    fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
        state::evolve(state, event)
    }
}

/// The refund of a paid or shipped order.
fn refund(
    order: &OrderDetails,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<OrderEvent, DomainError> {
    // Paid and Shipped orders always have a payment (OrderPaid sets it).
    let Some(payment_id) = order.payment_id else {
        return Err(DomainError::IllegalTransition {
            entity: "order",
            status: "unpaid",
            action: "refund",
        });
    };
    Ok(OrderEvent::OrderRefunded {
        order_id: order.order_id,
        payment_id,
        amount: order.total,
        reason: rules::text("reason", reason, rules::MAX_LONG_TEXT)?,
        shipped: order.status == OrderStatus::Shipped,
        at,
    })
}

fn place(
    state: &OrderState,
    order_id: OrderId,
    customer_id: CustomerId,
    lines: Vec<OrderLine>,
    payment_method: Option<PaymentMethod>,
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
        payment_method,
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
