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

#[cfg(test)]
mod tests {
    use aggregates::{
        CustomerId, Money, PaymentId, ProductId, SkuId, money::Currency, order::PricedLine,
        payment::PaymentMethod,
    };
    use chrono::{TimeZone, Utc};
    use event_store::{EventMetadata, StreamId};

    use super::*;

    fn recorded(stream: &str, event: &impl DomainEvent) -> RecordedEvent {
        RecordedEvent {
            position: 1,
            tx_id: 1,
            stream_id: StreamId::parse(stream).unwrap(),
            version: 0,
            event_id: Uuid::from_u128(7),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            data: event.to_data(),
            metadata: EventMetadata::default(),
            recorded_at: Utc::now(),
        }
    }

    fn line(product: u128, sku: u128) -> PricedLine {
        PricedLine {
            product_id: ProductId(Uuid::from_u128(product)),
            sku_id: SkuId(Uuid::from_u128(sku)),
            title: "Tent".into(),
            unit_price: Money::new(1_000, Currency::EUR),
            quantity: 2,
            line_total: Money::new(2_000, Currency::EUR),
        }
    }

    fn placed(method: Option<PaymentMethod>) -> OrderEvent {
        OrderEvent::OrderPlaced {
            order_id: OrderId(Uuid::from_u128(1)),
            customer_id: CustomerId(Uuid::from_u128(2)),
            lines: vec![line(10, 11), line(20, 21), line(10, 12)],
            total: Money::new(6_000, Currency::EUR),
            payment_method: method,
            at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_checkout_starts_from_an_order_placed_with_a_payment_method() {
        let event = recorded("order-1", &placed(Some(PaymentMethod::Balance)));
        let input = input(&event, Duration::from_secs(900)).unwrap().unwrap();
        assert_eq!(input.command_id, notice_command_id(event.event_id));
        let CheckoutCommand::Start {
            products,
            deadline,
            at,
            ..
        } = input.command
        else {
            panic!("{input:?}")
        };
        let grouped: Vec<(u128, usize)> = products
            .iter()
            .map(|p| (p.product_id.0.as_u128(), p.items.len()))
            .collect();
        assert_eq!(grouped, [(10, 2), (20, 1)], "one reservation per product");
        assert_eq!(deadline - at, chrono::Duration::seconds(900));
        let by_hand = recorded("order-1", &placed(None));
        assert!(input_of(&by_hand).is_none(), "not a checkout");
    }

    fn input_of(event: &RecordedEvent) -> Option<Input> {
        input(event, Duration::from_secs(900)).unwrap()
    }

    #[test]
    fn payment_facts_name_their_order_and_partial_refunds_are_not_facts() {
        let order_id = OrderId(Uuid::from_u128(1));
        let captured = PaymentEvent::PaymentCaptured {
            payment_id: PaymentId(Uuid::from_u128(3)),
            order_id,
            amount: Money::new(6_000, Currency::EUR),
            provider_reference: Some("ch_1".into()),
            at: Utc::now(),
        };
        let input = input_of(&recorded("payment-3", &captured)).unwrap();
        assert_eq!(input.order_id, order_id);
        assert!(matches!(
            input.command,
            CheckoutCommand::Notice {
                fact: Fact::PaymentCaptured,
                ..
            }
        ));
        let partial = PaymentEvent::PaymentRefunded {
            payment_id: PaymentId(Uuid::from_u128(3)),
            order_id,
            customer_id: CustomerId(Uuid::from_u128(2)),
            method: PaymentMethod::External,
            amount: Money::new(1_000, Currency::EUR),
            total_refunded: Money::new(1_000, Currency::EUR),
            fully_refunded: false,
            reason: "part".into(),
            at: Utc::now(),
        };
        assert!(input_of(&recorded("payment-3", &partial)).is_none());
    }

    #[test]
    fn other_categories_are_ignored_and_garbage_is_reported() {
        let event = recorded("order-1", &placed(Some(PaymentMethod::Balance)));
        let elsewhere = RecordedEvent {
            stream_id: StreamId::parse("cart-1").unwrap(),
            ..event.clone()
        };
        assert!(input_of(&elsewhere).is_none());
        let garbage = RecordedEvent {
            data: serde_json::json!({"order_id": 5}),
            ..event
        };
        assert!(input(&garbage, Duration::from_secs(1)).is_err());
    }
}
