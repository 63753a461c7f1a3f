//! Random product/stock command sequences never break the stock invariants.

use std::collections::BTreeMap;

use aggregates::{
    Currency, Money, Product, ProductId, ReservationId, SkuId,
    product::{ProductCommand, ProductEvent, ProductState, ReservationStatus, StockLine},
};
use proptest::{collection::vec, prelude::*};

use super::{at, run, uuid};

fn sku() -> impl Strategy<Value = SkuId> {
    (0u8..3).prop_map(|n| SkuId(uuid(n)))
}

fn reservation() -> impl Strategy<Value = ReservationId> {
    (0u8..5).prop_map(|n| ReservationId(uuid(100 + n)))
}

fn command() -> impl Strategy<Value = ProductCommand> {
    prop_oneof![
        1 => Just(ProductCommand::CreateProduct {
            product_id: ProductId(uuid(200)),
            title: "Shirt".into(),
            description: String::new(),
            at: at(0),
        }),
        3 => (sku(), -10i64..3000).prop_map(|(sku_id, price)| ProductCommand::AddSku {
            sku_id,
            price: Money::new(price, Currency::EUR),
            attributes: BTreeMap::new(),
            at: at(1),
        }),
        4 => (sku(), 0u32..15).prop_map(|(sku_id, quantity)| ProductCommand::RestockSku {
            sku_id,
            quantity,
            at: at(2),
        }),
        6 => (reservation(), vec((sku(), 0u32..8), 0..4)).prop_map(|(reservation_id, items)| {
            ProductCommand::ReserveStock {
                reservation_id,
                items: items
                    .into_iter()
                    .map(|(sku_id, quantity)| StockLine { sku_id, quantity })
                    .collect(),
                at: at(3),
            }
        }),
        3 => reservation().prop_map(|reservation_id| ProductCommand::ReleaseStock {
            reservation_id,
            at: at(4),
        }),
        3 => reservation().prop_map(|reservation_id| ProductCommand::CommitStock {
            reservation_id,
            at: at(4),
        }),
        1 => sku().prop_map(|sku_id| ProductCommand::DiscontinueSku { sku_id, at: at(5) }),
    ]
}

fn commands() -> impl Strategy<Value = Vec<ProductCommand>> {
    (vec(command(), 0..80), prop::bool::weighted(0.2)).prop_map(|(mut commands, discontinue)| {
        commands.insert(
            0,
            ProductCommand::CreateProduct {
                product_id: ProductId(uuid(200)),
                title: "Shirt".into(),
                description: String::new(),
                at: at(0),
            },
        );
        // Rarely, and mid-way: it freezes every later reservation and restock.
        if discontinue {
            let middle = commands.len() / 2;
            commands.insert(middle, ProductCommand::DiscontinueProduct { at: at(6) });
        }
        commands
    })
}

/// Invariants that must hold after every accepted command.
fn check(state: &ProductState, events: &[ProductEvent]) {
    let ProductState::Created(product) = state else {
        return;
    };
    // Reserved stock equals what open reservations hold, and never exceeds stock on hand.
    let mut held: BTreeMap<SkuId, u32> = BTreeMap::new();
    for reservation in product.reservations.values() {
        if reservation.status == ReservationStatus::Open {
            for line in &reservation.items {
                *held.entry(line.sku_id).or_default() += line.quantity;
            }
        }
    }
    let mut received: BTreeMap<SkuId, u32> = BTreeMap::new();
    let mut sold: BTreeMap<SkuId, u32> = BTreeMap::new();
    let mut reserved_once: BTreeMap<ReservationId, usize> = BTreeMap::new();
    let mut resolved_once: BTreeMap<ReservationId, usize> = BTreeMap::new();
    for event in events {
        match event {
            ProductEvent::SkuRestocked {
                sku_id, quantity, ..
            } => *received.entry(*sku_id).or_default() += quantity,
            ProductEvent::StockReserved { reservation_id, .. } => {
                *reserved_once.entry(*reservation_id).or_default() += 1;
            }
            ProductEvent::StockReleased { reservation_id, .. } => {
                assert!(reserved_once.contains_key(reservation_id));
                *resolved_once.entry(*reservation_id).or_default() += 1;
            }
            ProductEvent::StockCommitted {
                reservation_id,
                items,
                ..
            } => {
                assert!(reserved_once.contains_key(reservation_id));
                *resolved_once.entry(*reservation_id).or_default() += 1;
                for change in items {
                    *sold.entry(change.sku_id).or_default() += change.quantity;
                }
            }
            _ => {}
        }
    }
    assert!(
        reserved_once.values().all(|&n| n == 1),
        "reservation id reused"
    );
    assert!(
        resolved_once.values().all(|&n| n == 1),
        "reservation resolved twice"
    );
    for sku in product.skus.values() {
        assert!(
            sku.reserved <= sku.on_hand,
            "reserved exceeds on hand: {sku:?}"
        );
        assert_eq!(sku.reserved, held.get(&sku.sku_id).copied().unwrap_or(0));
        // On hand is exactly what was received minus what was sold: nothing appears or vanishes.
        let received = received.get(&sku.sku_id).copied().unwrap_or(0);
        let sold = sold.get(&sku.sku_id).copied().unwrap_or(0);
        assert_eq!(sku.on_hand, received - sold);
        assert_eq!(sku.available(), sku.on_hand - sku.reserved);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn stock_invariants_hold_for_any_command_sequence(commands in commands()) {
        run::<Product>(commands, check);
    }

    #[test]
    fn discontinued_skus_are_never_reserved_or_restocked(commands in commands()) {
        let mut before = ProductState::default();
        for command in commands {
            let Ok(events) = <Product as aggregates::Aggregate>::decide(&before, command) else {
                continue;
            };
            for event in &events {
                if let ProductState::Created(product) = &before {
                    let touched: Vec<SkuId> = match event {
                        ProductEvent::StockReserved { items, .. } => {
                            items.iter().map(|change| change.sku_id).collect()
                        }
                        ProductEvent::SkuRestocked { sku_id, .. } => vec![*sku_id],
                        _ => vec![],
                    };
                    for sku_id in touched {
                        prop_assert!(!product.discontinued);
                        prop_assert!(!product.skus[&sku_id].discontinued);
                    }
                }
            }
            before = <Product as aggregates::Aggregate>::fold_from(before, &events);
        }
    }
}
