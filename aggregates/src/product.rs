//! Product: a catalog entry with its SKUs (purchasable variants) and their stock, all in one
//! stream so stock changes are checked against one consistent state.
//!
//! Stock rules, enforced by `decide` and property-tested: on hand ≥ 0 (it is unsigned and never
//! underflows), reserved ≤ on hand, `available = on hand − reserved`; a reservation id is used
//! once, covers one or more SKUs of this product all-or-nothing, and is released or committed
//! exactly once; a committed reservation may be returned once (its items back on hand: a sale
//! undone before shipping); discontinued SKUs (or any SKU of a discontinued product) cannot be reserved or
//! restocked, but reservations taken before still release and commit.
//!
//! The types live in `commands.rs`, `events.rs` and `state.rs` (with `evolve`) beside this file
//! and are re-exported here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::{
    aggregate::Aggregate,
    error::DomainError,
    ids::{ProductId, ReservationId, SkuId},
    money::Money,
    rules,
};

mod commands;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{ProductCommand, StockLine};
pub use events::{ProductEvent, StockChange};
pub use state::{ProductDetails, ProductState, Reservation, ReservationStatus, Sku};

/// The product aggregate (stream `product-<product id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product;

/// Most SKUs one product may have.
pub const MAX_SKUS: usize = 100;
/// Most attributes one SKU may have.
pub const MAX_ATTRIBUTES: usize = 50;
/// Most SKUs one reservation may cover.
pub const MAX_RESERVATION_LINES: usize = 100;

impl Aggregate for Product {
    const CATEGORY: &'static str = "product";
    type Id = ProductId;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type State = ProductState;
    type Error = DomainError;

    fn decide(
        state: &ProductState,
        command: ProductCommand,
    ) -> Result<Vec<ProductEvent>, DomainError> {
        use ProductCommand::*;
        let event = match command {
            CreateProduct {
                product_id,
                title,
                description,
                at,
            } => create(state, product_id, &title, &description, at)?,
            AddSku {
                sku_id,
                price,
                attributes,
                at,
            } => add_sku(created(state)?, sku_id, price, attributes, at)?,
            RestockSku {
                sku_id,
                quantity,
                at,
            } => restock(created(state)?, sku_id, quantity, at)?,
            ReserveStock {
                reservation_id,
                items,
                at,
            } => {
                let product = created(state)?;
                ProductEvent::StockReserved {
                    product_id: product.product_id,
                    reservation_id,
                    items: reserve(product, reservation_id, &items)?,
                    at,
                }
            }
            ReleaseStock { reservation_id, at } => {
                let product = created(state)?;
                ProductEvent::StockReleased {
                    product_id: product.product_id,
                    reservation_id,
                    // An open reservation's quantities are part of `reserved`: no underflow.
                    items: resolve(product, reservation_id, |sku, quantity| {
                        (sku.on_hand, sku.reserved.saturating_sub(quantity))
                    })?,
                    at,
                }
            }
            CommitStock { reservation_id, at } => {
                let product = created(state)?;
                ProductEvent::StockCommitted {
                    product_id: product.product_id,
                    reservation_id,
                    // The quantity is part of `reserved` ≤ `on_hand`: no underflow.
                    items: resolve(product, reservation_id, |sku, quantity| {
                        (
                            sku.on_hand.saturating_sub(quantity),
                            sku.reserved.saturating_sub(quantity),
                        )
                    })?,
                    at,
                }
            }
            ReturnStock { reservation_id, at } => {
                let product = created(state)?;
                let reservation = product.committed_reservation(reservation_id)?;
                let items = reservation
                    .items
                    .iter()
                    .map(|line| {
                        let sku = product.sku(&line.sku_id)?;
                        let on_hand = sku.on_hand.checked_add(line.quantity).ok_or(
                            DomainError::Overflow {
                                what: "stock on hand",
                            },
                        )?;
                        Ok(StockChange::new(line, on_hand, sku.reserved))
                    })
                    .collect::<Result<_, DomainError>>()?;
                ProductEvent::StockReturned {
                    product_id: product.product_id,
                    reservation_id,
                    items,
                    at,
                }
            }
            DiscontinueProduct { at } => {
                let product = created(state)?;
                product.ensure_active()?;
                ProductEvent::ProductDiscontinued {
                    product_id: product.product_id,
                    discontinued_skus: product
                        .skus
                        .values()
                        .filter(|sku| !sku.discontinued)
                        .map(|sku| sku.sku_id)
                        .collect(),
                    at,
                }
            }
            DiscontinueSku { sku_id, at } => {
                let product = created(state)?;
                product.active_sku(&sku_id)?;
                ProductEvent::SkuDiscontinued {
                    product_id: product.product_id,
                    sku_id,
                    at,
                }
            }
        };
        Ok(vec![event])
    }

    fn evolve(state: ProductState, event: &ProductEvent) -> ProductState {
        state::evolve(state, event)
    }
}

/// The product, if it was created.
fn created(state: &ProductState) -> Result<&ProductDetails, DomainError> {
    match state {
        ProductState::NotCreated => Err(DomainError::NotCreated { entity: "product" }),
        ProductState::Created(product) => Ok(product),
    }
}

fn create(
    state: &ProductState,
    product_id: ProductId,
    title: &str,
    description: &str,
    at: DateTime<Utc>,
) -> Result<ProductEvent, DomainError> {
    if let ProductState::Created(product) = state {
        return Err(DomainError::AlreadyExists {
            entity: "product",
            id: product.product_id.to_string(),
        });
    }
    let description = description.trim();
    if description.chars().count() > rules::MAX_LONG_TEXT {
        return Err(DomainError::Invalid {
            field: "description",
            reason: "is too long",
        });
    }
    Ok(ProductEvent::ProductCreated {
        product_id,
        title: rules::text("title", title, rules::MAX_SHORT_TEXT)?,
        description: description.to_owned(),
        at,
    })
}

fn add_sku(
    product: &ProductDetails,
    sku_id: SkuId,
    price: Money,
    attributes: BTreeMap<String, String>,
    at: DateTime<Utc>,
) -> Result<ProductEvent, DomainError> {
    product.ensure_active()?;
    if product.skus.contains_key(&sku_id) {
        return Err(DomainError::AlreadyExists {
            entity: "sku",
            id: sku_id.to_string(),
        });
    }
    if product.skus.len() >= MAX_SKUS {
        return Err(DomainError::Invalid {
            field: "sku_id",
            reason: "the product already has the maximum number of skus",
        });
    }
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(DomainError::Invalid {
            field: "attributes",
            reason: "too many attributes",
        });
    }
    if attributes.keys().any(|name| name.trim().is_empty()) {
        return Err(DomainError::Invalid {
            field: "attributes",
            reason: "attribute names must not be empty",
        });
    }
    Ok(ProductEvent::SkuAdded {
        product_id: product.product_id,
        sku_id,
        price: rules::positive("price", price)?,
        attributes,
        at,
    })
}

fn restock(
    product: &ProductDetails,
    sku_id: SkuId,
    quantity: u32,
    at: DateTime<Utc>,
) -> Result<ProductEvent, DomainError> {
    let quantity = rules::quantity("quantity", quantity, u32::MAX)?;
    let sku = product.active_sku(&sku_id)?;
    let on_hand = sku
        .on_hand
        .checked_add(quantity)
        .ok_or(DomainError::Overflow {
            what: "stock on hand",
        })?;
    let change = StockChange::new(&StockLine { sku_id, quantity }, on_hand, sku.reserved);
    Ok(ProductEvent::SkuRestocked {
        product_id: product.product_id,
        sku_id,
        quantity,
        on_hand: change.on_hand,
        reserved: change.reserved,
        available: change.available,
        at,
    })
}

/// The stock changes of resolving (releasing or committing) an open reservation; `levels`
/// gives a SKU's new `(on_hand, reserved)` after giving back `quantity`.
fn resolve(
    product: &ProductDetails,
    reservation_id: ReservationId,
    levels: impl Fn(&Sku, u32) -> (u32, u32),
) -> Result<Vec<StockChange>, DomainError> {
    let reservation = product.open_reservation(reservation_id)?;
    reservation
        .items
        .iter()
        .map(|line| {
            let (on_hand, reserved) = levels(product.sku(&line.sku_id)?, line.quantity);
            Ok(StockChange::new(line, on_hand, reserved))
        })
        .collect()
}

/// The stock changes of reserving `items` under `reservation_id`, all or nothing.
fn reserve(
    product: &ProductDetails,
    reservation_id: ReservationId,
    items: &[StockLine],
) -> Result<Vec<StockChange>, DomainError> {
    if items.is_empty() {
        return Err(DomainError::Invalid {
            field: "items",
            reason: "must not be empty",
        });
    }
    if items.len() > MAX_RESERVATION_LINES {
        return Err(DomainError::Invalid {
            field: "items",
            reason: "too many lines",
        });
    }
    let mut seen = BTreeSet::new();
    if !items.iter().all(|line| seen.insert(line.sku_id)) {
        return Err(DomainError::Invalid {
            field: "items",
            reason: "must not repeat a sku",
        });
    }
    for line in items {
        rules::quantity("quantity", line.quantity, u32::MAX)?;
    }
    if product.reservations.contains_key(&reservation_id) {
        return Err(DomainError::AlreadyExists {
            entity: "reservation",
            id: reservation_id.to_string(),
        });
    }
    product.ensure_active()?;
    items
        .iter()
        .map(|line| {
            let sku = product.active_sku(&line.sku_id)?;
            let available = sku.available();
            if line.quantity > available {
                return Err(DomainError::InsufficientStock {
                    sku_id: line.sku_id,
                    available,
                    requested: line.quantity,
                });
            }
            Ok(StockChange::new(
                line,
                sku.on_hand,
                sku.reserved + line.quantity,
            ))
        })
        .collect()
}
