//! What a checkout takes from other streams: the events of the order and payment topics that
//! are inputs of a checkout, as [`CheckoutCommand`]s, each with the command id that records it
//! (UUIDv5 of the event id, so a redelivered message is the same command again).

use std::time::Duration;

use aggregates::Aggregate;
use aggregates::{
    DomainEvent, Order, OrderId, Payment,
    checkout::{CheckoutCommand, Fact, ProductStock, notice_command_id},
    order::OrderEvent,
    payment::PaymentEvent,
    product::StockLine,
};
use event_store::RecordedEvent;
use uuid::Uuid;

/// The tags (event types) the process manager subscribes to, per category.
pub const ORDER_TAGS: &str = "OrderPlaced || OrderCancelled || OrderRefunded";
/// See [`ORDER_TAGS`].
pub const PAYMENT_TAGS: &str = "PaymentCaptured || PaymentFailed || PaymentRefunded";

/// One input for checkout `order_id`, recorded under `command_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The checkout (its order).
    pub order_id: OrderId,
    /// What to record.
    pub command: CheckoutCommand,
    /// The command id that records it.
    pub command_id: Uuid,
}

/// Why an event of a subscribed topic cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("event {event_id} ({event_type}) does not decode: {source}")]
pub struct Undecodable {
    /// The event.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// Why.
    #[source]
    pub source: aggregates::DecodeError,
}

/// The checkout input `event` is, if any. An order placed without a payment method, and the
/// event types a checkout does not follow, are none.
pub fn input(event: &RecordedEvent, deadline: Duration) -> Result<Option<Input>, Undecodable> {
    let undecodable = |source| Undecodable {
        event_id: event.event_id,
        event_type: event.event_type.clone(),
        source,
    };
    let command_id = notice_command_id(event.event_id);
    let input = |order_id, command| {
        Some(Input {
            order_id,
            command,
            command_id,
        })
    };
    let notice = |order_id, fact, at| input(order_id, CheckoutCommand::Notice { fact, at });
    let category = event.stream_id.category();
    if category == Order::CATEGORY {
        let decoded = OrderEvent::from_stored(&event.event_type, event.schema_version, &event.data)
            .map_err(undecodable)?;
        return Ok(match decoded {
            OrderEvent::OrderPlaced {
                order_id,
                customer_id,
                lines,
                total,
                payment_method: Some(method),
                at,
            } => {
                let mut products: Vec<ProductStock> = Vec::new();
                for line in lines {
                    let item = StockLine {
                        sku_id: line.sku_id,
                        quantity: line.quantity,
                    };
                    match products
                        .iter_mut()
                        .find(|p| p.product_id == line.product_id)
                    {
                        Some(product) => product.items.push(item),
                        None => products.push(ProductStock {
                            product_id: line.product_id,
                            items: vec![item],
                        }),
                    }
                }
                let deadline =
                    at + chrono::Duration::from_std(deadline).unwrap_or(chrono::Duration::MAX);
                input(
                    order_id,
                    CheckoutCommand::Start {
                        order_id,
                        customer_id,
                        total,
                        method,
                        products,
                        deadline,
                        at,
                    },
                )
            }
            OrderEvent::OrderCancelled {
                order_id,
                reason,
                at,
                ..
            } => notice(order_id, Fact::OrderCancelled { reason }, at),
            OrderEvent::OrderRefunded {
                order_id,
                reason,
                at,
                shipped: false,
                ..
            } => notice(order_id, Fact::OrderRefunded { reason }, at),
            _ => None,
        });
    }
    if category == Payment::CATEGORY {
        let decoded =
            PaymentEvent::from_stored(&event.event_type, event.schema_version, &event.data)
                .map_err(undecodable)?;
        return Ok(match decoded {
            PaymentEvent::PaymentCaptured { order_id, at, .. } => {
                notice(order_id, Fact::PaymentCaptured, at)
            }
            PaymentEvent::PaymentFailed {
                order_id,
                reason,
                at,
                ..
            } => notice(order_id, Fact::PaymentFailed { reason }, at),
            PaymentEvent::PaymentRefunded {
                order_id,
                fully_refunded: true,
                at,
                ..
            } => notice(order_id, Fact::PaymentRefunded, at),
            _ => None,
        });
    }
    Ok(None)
}
