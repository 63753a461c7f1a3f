//! Given/when/then tests of the product aggregate: shared history fixtures here, the tests
//! split by concept into the catalog (product and SKU lifecycle) and stock.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

mod catalog;
mod stock;

use super::*;
use crate::{error::ErrorKind, event::DomainEvent, money::Currency, testing};

const PRODUCT: ProductId = ProductId(Uuid::from_u128(1));
const SHIRT_M: SkuId = SkuId(Uuid::from_u128(11));
const SHIRT_L: SkuId = SkuId(Uuid::from_u128(12));
const UNKNOWN: SkuId = SkuId(Uuid::from_u128(99));
const ORDER_1: ReservationId = ReservationId(Uuid::from_u128(101));
const ORDER_2: ReservationId = ReservationId(Uuid::from_u128(102));

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, second).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn given(events: impl IntoIterator<Item = ProductEvent>) -> testing::Given<Product> {
    testing::given(events)
}

fn created() -> ProductEvent {
    ProductEvent::ProductCreated {
        product_id: PRODUCT,
        title: "Shirt".into(),
        description: "Cotton".into(),
        at: at(0),
    }
}

fn sku_added(sku_id: SkuId) -> ProductEvent {
    ProductEvent::SkuAdded {
        product_id: PRODUCT,
        sku_id,
        price: eur(1999),
        attributes: BTreeMap::from([("size".to_owned(), "M".to_owned())]),
        at: at(1),
    }
}

fn restocked(sku_id: SkuId, quantity: u32, on_hand: u32, reserved: u32) -> ProductEvent {
    ProductEvent::SkuRestocked {
        product_id: PRODUCT,
        sku_id,
        quantity,
        on_hand,
        reserved,
        available: on_hand - reserved,
        at: at(2),
    }
}

fn change(sku_id: SkuId, quantity: u32, on_hand: u32, reserved: u32) -> StockChange {
    StockChange {
        sku_id,
        quantity,
        on_hand,
        reserved,
        available: on_hand - reserved,
    }
}

fn reserved(reservation_id: ReservationId, items: Vec<StockChange>) -> ProductEvent {
    ProductEvent::StockReserved {
        product_id: PRODUCT,
        reservation_id,
        items,
        at: at(3),
    }
}

/// A product with SHIRT_M (10 on hand) and SHIRT_L (5 on hand).
fn stocked() -> Vec<ProductEvent> {
    vec![
        created(),
        sku_added(SHIRT_M),
        sku_added(SHIRT_L),
        restocked(SHIRT_M, 10, 10, 0),
        restocked(SHIRT_L, 5, 5, 0),
    ]
}

/// `stocked()` plus ORDER_1 holding 3 of SHIRT_M and 2 of SHIRT_L.
fn with_reservation() -> Vec<ProductEvent> {
    let mut events = stocked();
    events.push(reserved(
        ORDER_1,
        vec![change(SHIRT_M, 3, 10, 3), change(SHIRT_L, 2, 5, 2)],
    ));
    events
}

fn reserve(reservation_id: ReservationId, items: &[(SkuId, u32)]) -> ProductCommand {
    ProductCommand::ReserveStock {
        reservation_id,
        items: items
            .iter()
            .map(|&(sku_id, quantity)| StockLine { sku_id, quantity })
            .collect(),
        at: at(3),
    }
}

fn release(reservation_id: ReservationId) -> ProductCommand {
    ProductCommand::ReleaseStock {
        reservation_id,
        at: at(4),
    }
}

fn commit(reservation_id: ReservationId) -> ProductCommand {
    ProductCommand::CommitStock {
        reservation_id,
        at: at(4),
    }
}

fn add_sku(sku_id: SkuId, price: Money) -> ProductCommand {
    ProductCommand::AddSku {
        sku_id,
        price,
        attributes: BTreeMap::from([("size".to_owned(), "M".to_owned())]),
        at: at(1),
    }
}

fn restock(sku_id: SkuId, quantity: u32) -> ProductCommand {
    ProductCommand::RestockSku {
        sku_id,
        quantity,
        at: at(2),
    }
}

fn sku_discontinued(sku_id: SkuId) -> ProductEvent {
    ProductEvent::SkuDiscontinued {
        product_id: PRODUCT,
        sku_id,
        at: at(5),
    }
}

fn product_discontinued(skus: Vec<SkuId>) -> ProductEvent {
    ProductEvent::ProductDiscontinued {
        product_id: PRODUCT,
        discontinued_skus: skus,
        at: at(5),
    }
}

fn inactive_sku(sku_id: SkuId) -> DomainError {
    DomainError::Inactive {
        entity: "sku",
        id: sku_id.to_string(),
        status: "discontinued",
    }
}

fn inactive_product() -> DomainError {
    DomainError::Inactive {
        entity: "product",
        id: PRODUCT.to_string(),
        status: "discontinued",
    }
}
