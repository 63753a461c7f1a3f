//! Given/when/then tests of the cart aggregate.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::{
    error::ErrorKind,
    event::DomainEvent,
    ids::{ProductId, SkuId},
    money::{Currency, Money},
    testing,
};

const ME: CustomerId = CustomerId(Uuid::from_u128(1));
const SOMEONE_ELSE: CustomerId = CustomerId(Uuid::from_u128(2));
const PRODUCT: ProductId = ProductId(Uuid::from_u128(10));
const SHIRT: SkuId = SkuId(Uuid::from_u128(11));
const SOCKS: SkuId = SkuId(Uuid::from_u128(12));

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, second).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn given(events: impl IntoIterator<Item = CartEvent>) -> testing::Given<Cart> {
    testing::given(events)
}

/// Adding `quantity` of `sku_id` at 500 EUR cents, on sale, 50 in stock.
fn add(sku_id: SkuId, quantity: u32) -> CartCommand {
    CartCommand::AddItem {
        customer_id: ME,
        product_id: PRODUCT,
        sku_id,
        quantity,
        title: "Shirt".into(),
        unit_price: eur(500),
        sku_active: true,
        available_stock: 50,
        at: at(1),
    }
}

fn with(command: CartCommand, edit: impl FnOnce(&mut CartCommand)) -> CartCommand {
    let mut command = command;
    edit(&mut command);
    command
}

fn added(sku_id: SkuId, quantity: u32, line_quantity: u32) -> CartEvent {
    CartEvent::CartItemAdded {
        customer_id: ME,
        product_id: PRODUCT,
        sku_id,
        title: "Shirt".into(),
        unit_price: eur(500),
        quantity,
        line_quantity,
        at: at(1),
    }
}

fn change(quantity: u32, available_stock: u32) -> CartCommand {
    CartCommand::ChangeQuantity {
        customer_id: ME,
        sku_id: SHIRT,
        quantity,
        available_stock,
        at: at(2),
    }
}

#[test]
fn add_item_to_an_unused_cart_starts_it() {
    let state = given([]).when(add(SHIRT, 2)).then([added(SHIRT, 2, 2)]);
    assert_eq!(state.customer_id, Some(ME));
    assert_eq!(state.total(), Ok(Some(eur(1000))));
    assert_eq!(state.order_lines().len(), 1);
}

#[test]
fn add_item_to_an_existing_line_adds_up_and_takes_the_new_price() {
    let state = given([added(SHIRT, 2, 2)])
        .when(with(add(SHIRT, 3), |c| {
            if let CartCommand::AddItem { unit_price, .. } = c {
                *unit_price = eur(450);
            }
        }))
        .then([CartEvent::CartItemAdded {
            customer_id: ME,
            product_id: PRODUCT,
            sku_id: SHIRT,
            title: "Shirt".into(),
            unit_price: eur(450),
            quantity: 3,
            line_quantity: 5,
            at: at(1),
        }]);
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.total(), Ok(Some(eur(2250))));
}

#[test]
fn add_item_quantity_must_be_between_1_and_99() {
    for quantity in [0, 100] {
        given([])
            .when(add(SHIRT, quantity))
            .then_error(DomainError::InvalidQuantity {
                field: "quantity",
                quantity,
                min: 1,
                max: 99,
            });
    }
}

#[test]
fn adding_to_a_line_must_respect_the_cap() {
    let error = given([added(SHIRT, 40, 40)])
        .when(add(SHIRT, 60))
        .result()
        .unwrap_err();
    assert_eq!(
        error,
        DomainError::LineQuantityExceeded {
            sku_id: SHIRT,
            quantity: 100,
            max: 99,
        }
    );
    assert_eq!(error.kind(), ErrorKind::FailedPrecondition);
}

#[test]
fn a_cart_holds_at_most_100_lines() {
    let full: Vec<_> = (0..100u128)
        .map(|n| added(SkuId(Uuid::from_u128(1000 + n)), 1, 1))
        .collect();
    given(full.clone())
        .when(add(SHIRT, 1))
        .then_error(DomainError::CartFull { max_lines: 100 });
    // Adding to a line already in a full cart is fine.
    given(full)
        .when(add(SkuId(Uuid::from_u128(1000)), 1))
        .result()
        .unwrap();
}

#[test]
fn only_skus_on_sale_can_be_added() {
    given([])
        .when(with(add(SHIRT, 1), |c| {
            if let CartCommand::AddItem { sku_active, .. } = c {
                *sku_active = false;
            }
        }))
        .then_error(DomainError::Inactive {
            entity: "sku",
            id: SHIRT.to_string(),
            status: "not on sale",
        });
}

#[test]
fn the_line_may_not_exceed_the_available_stock() {
    given([added(SHIRT, 2, 2)])
        .when(with(add(SHIRT, 2), |c| {
            if let CartCommand::AddItem {
                available_stock, ..
            } = c
            {
                *available_stock = 3;
            }
        }))
        .then_error(DomainError::InsufficientStock {
            sku_id: SHIRT,
            available: 3,
            requested: 4,
        });
}

#[test]
fn a_cart_holds_one_currency() {
    given([added(SHIRT, 1, 1)])
        .when(with(add(SOCKS, 1), |c| {
            if let CartCommand::AddItem { unit_price, .. } = c {
                *unit_price = Money::new(500, Currency::USD);
            }
        }))
        .then_error(DomainError::CurrencyMismatch {
            expected: Currency::EUR,
            actual: Currency::USD,
        });
}

#[test]
fn add_item_rejects_a_blank_title_and_a_non_positive_price() {
    given([])
        .when(with(add(SHIRT, 1), |c| {
            if let CartCommand::AddItem { title, .. } = c {
                *title = " ".into();
            }
        }))
        .then_error(DomainError::Invalid {
            field: "title",
            reason: "must not be empty",
        });
    given([])
        .when(with(add(SHIRT, 1), |c| {
            if let CartCommand::AddItem { unit_price, .. } = c {
                *unit_price = eur(0);
            }
        }))
        .then_error(DomainError::NonPositiveAmount {
            field: "unit_price",
            amount: eur(0),
        });
}

#[test]
fn commands_for_another_customer_are_rejected() {
    given([added(SHIRT, 1, 1)])
        .when(with(add(SHIRT, 1), |c| {
            if let CartCommand::AddItem { customer_id, .. } = c {
                *customer_id = SOMEONE_ELSE;
            }
        }))
        .then_error(DomainError::Invalid {
            field: "customer_id",
            reason: "does not own this cart",
        });
}

#[test]
fn change_quantity_records_old_and_new() {
    let state = given([added(SHIRT, 2, 2)]).when(change(7, 10)).then([
        CartEvent::CartItemQuantityChanged {
            customer_id: ME,
            sku_id: SHIRT,
            quantity: 7,
            previous_quantity: 2,
            at: at(2),
        },
    ]);
    assert_eq!(state.line(&SHIRT).map(|l| l.quantity), Some(7));
}

#[test]
fn change_quantity_to_the_same_value_changes_nothing() {
    given([added(SHIRT, 2, 2)]).when(change(2, 0)).then([]);
}

#[test]
fn change_quantity_checks_stock_only_when_growing() {
    given([added(SHIRT, 5, 5)])
        .when(change(6, 5))
        .then_error(DomainError::InsufficientStock {
            sku_id: SHIRT,
            available: 5,
            requested: 6,
        });
    given([added(SHIRT, 5, 5)])
        .when(change(3, 0))
        .result()
        .unwrap();
}

#[test]
fn change_quantity_rejects_out_of_range_and_unknown_lines() {
    for quantity in [0, 100] {
        given([added(SHIRT, 2, 2)])
            .when(change(quantity, 200))
            .then_error(DomainError::InvalidQuantity {
                field: "quantity",
                quantity,
                min: 1,
                max: 99,
            });
    }
    given([])
        .when(change(3, 10))
        .then_error(DomainError::NotFound {
            entity: "cart line",
            id: SHIRT.to_string(),
        });
}

#[test]
fn remove_item_drops_the_line() {
    let state = given([added(SHIRT, 2, 2), added(SOCKS, 1, 1)])
        .when(CartCommand::RemoveItem {
            customer_id: ME,
            sku_id: SHIRT,
            at: at(3),
        })
        .then([CartEvent::CartItemRemoved {
            customer_id: ME,
            sku_id: SHIRT,
            at: at(3),
        }]);
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.lines[0].sku_id, SOCKS);
}

#[test]
fn remove_item_of_an_unknown_line_is_not_found() {
    given([added(SOCKS, 1, 1)])
        .when(CartCommand::RemoveItem {
            customer_id: ME,
            sku_id: SHIRT,
            at: at(3),
        })
        .then_error(DomainError::NotFound {
            entity: "cart line",
            id: SHIRT.to_string(),
        });
}

#[test]
fn clear_removes_every_line() {
    let state = given([added(SHIRT, 2, 2), added(SOCKS, 1, 1)])
        .when(CartCommand::Clear {
            customer_id: ME,
            at: at(4),
        })
        .then([CartEvent::CartCleared {
            customer_id: ME,
            at: at(4),
        }]);
    assert!(state.lines.is_empty());
    assert_eq!(state.total(), Ok(None));
}

#[test]
fn clearing_an_empty_cart_changes_nothing() {
    given([])
        .when(CartCommand::Clear {
            customer_id: ME,
            at: at(4),
        })
        .then([]);
}

#[test]
fn every_event_round_trips_through_storage() {
    let events = [
        added(SHIRT, 2, 2),
        CartEvent::CartItemQuantityChanged {
            customer_id: ME,
            sku_id: SHIRT,
            quantity: 3,
            previous_quantity: 2,
            at: at(2),
        },
        CartEvent::CartItemRemoved {
            customer_id: ME,
            sku_id: SHIRT,
            at: at(3),
        },
        CartEvent::CartCleared {
            customer_id: ME,
            at: at(4),
        },
    ];
    for event in events {
        let data = event.to_data();
        assert!(data.is_object());
        let decoded =
            CartEvent::from_stored(event.event_type(), event.schema_version(), &data).unwrap();
        assert_eq!(decoded, event);
    }
    assert_eq!(Cart::stream_id(&ME), format!("cart-{ME}"));
}
