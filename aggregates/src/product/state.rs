//! The product's state and `evolve`, which copies facts from events and decides nothing.

use std::collections::BTreeMap;

use super::{ProductEvent, StockChange, StockLine};
use crate::{
    error::DomainError,
    ids::{ProductId, ReservationId, SkuId},
    money::Money,
};

/// A product's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub enum ProductState {
    /// No events yet.
    #[default]
    NotCreated,
    /// Created (possibly discontinued since).
    Created(ProductDetails),
}

/// A created product with its SKUs and reservations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProductDetails {
    /// The product.
    pub product_id: ProductId,
    /// Catalog title.
    pub title: String,
    /// Free text.
    pub description: String,
    /// True once the whole product is withdrawn from sale.
    pub discontinued: bool,
    /// Its SKUs by id.
    pub skus: BTreeMap<SkuId, Sku>,
    /// Every reservation ever taken, by id (kept after resolution so ids are never reused).
    pub reservations: BTreeMap<ReservationId, Reservation>,
}

/// A SKU and its stock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sku {
    /// The SKU.
    pub sku_id: SkuId,
    /// Unit price.
    pub price: Money,
    /// Variant attributes.
    pub attributes: BTreeMap<String, String>,
    /// Items in the warehouse, reserved or not.
    pub on_hand: u32,
    /// Items held by open reservations; never more than `on_hand`.
    pub reserved: u32,
    /// True once withdrawn from sale (directly or with its product).
    pub discontinued: bool,
}

impl Sku {
    /// Items that can still be reserved.
    pub fn available(&self) -> u32 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// Stock held for one reservation id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reservation {
    /// SKUs and quantities held.
    pub items: Vec<StockLine>,
    /// Open until released or committed, exactly once.
    pub status: ReservationStatus,
}

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ReservationStatus {
    /// Holding stock.
    Open,
    /// Stock given back.
    Released,
    /// Stock sold.
    Committed,
    /// Sold, then put back on hand (the sale was undone before shipping).
    Returned,
}

impl ProductDetails {
    /// `Ok` unless the product is discontinued.
    pub(crate) fn ensure_active(&self) -> Result<(), DomainError> {
        if self.discontinued {
            Err(DomainError::Inactive {
                entity: "product",
                id: self.product_id.to_string(),
                status: "discontinued",
            })
        } else {
            Ok(())
        }
    }

    /// The SKU, discontinued or not.
    pub(crate) fn sku(&self, sku_id: &SkuId) -> Result<&Sku, DomainError> {
        self.skus.get(sku_id).ok_or_else(|| DomainError::NotFound {
            entity: "sku",
            id: sku_id.to_string(),
        })
    }

    /// The SKU, if it and its product are on sale.
    pub(crate) fn active_sku(&self, sku_id: &SkuId) -> Result<&Sku, DomainError> {
        let sku = self.sku(sku_id)?;
        self.ensure_active()?;
        if sku.discontinued {
            return Err(DomainError::Inactive {
                entity: "sku",
                id: sku_id.to_string(),
                status: "discontinued",
            });
        }
        Ok(sku)
    }

    /// The reservation, if it exists and was committed (and not returned yet).
    pub(crate) fn committed_reservation(
        &self,
        reservation_id: ReservationId,
    ) -> Result<&Reservation, DomainError> {
        let reservation =
            self.reservations
                .get(&reservation_id)
                .ok_or_else(|| DomainError::NotFound {
                    entity: "reservation",
                    id: reservation_id.to_string(),
                })?;
        let status = match reservation.status {
            ReservationStatus::Committed => return Ok(reservation),
            ReservationStatus::Open => "open",
            ReservationStatus::Released => "released",
            ReservationStatus::Returned => "returned",
        };
        Err(DomainError::IllegalTransition {
            entity: "reservation",
            status,
            action: "return",
        })
    }

    /// The reservation, if it exists and is still open.
    pub(crate) fn open_reservation(
        &self,
        reservation_id: ReservationId,
    ) -> Result<&Reservation, DomainError> {
        let reservation =
            self.reservations
                .get(&reservation_id)
                .ok_or_else(|| DomainError::NotFound {
                    entity: "reservation",
                    id: reservation_id.to_string(),
                })?;
        let resolution = match reservation.status {
            ReservationStatus::Open => return Ok(reservation),
            ReservationStatus::Released => "released",
            ReservationStatus::Committed => "committed",
            ReservationStatus::Returned => "returned",
        };
        Err(DomainError::ReservationResolved {
            reservation_id,
            resolution,
        })
    }
}

/// Applies one event.
pub(super) fn evolve(state: ProductState, event: &ProductEvent) -> ProductState {
    match (state, event) {
        (
            ProductState::NotCreated,
            ProductEvent::ProductCreated {
                product_id,
                title,
                description,
                ..
            },
        ) => ProductState::Created(ProductDetails {
            product_id: *product_id,
            title: title.clone(),
            description: description.clone(),
            discontinued: false,
            skus: BTreeMap::new(),
            reservations: BTreeMap::new(),
        }),
        (ProductState::Created(product), event) => ProductState::Created(apply(product, event)),
        // `decide` never writes anything else to an empty stream.
        (state, _) => state,
    }
}

fn apply(mut product: ProductDetails, event: &ProductEvent) -> ProductDetails {
    use ProductEvent::*;
    match event {
        ProductCreated { .. } => {}
        SkuAdded {
            sku_id,
            price,
            attributes,
            ..
        } => {
            product.skus.insert(
                *sku_id,
                Sku {
                    sku_id: *sku_id,
                    price: *price,
                    attributes: attributes.clone(),
                    on_hand: 0,
                    reserved: 0,
                    discontinued: false,
                },
            );
        }
        SkuRestocked {
            sku_id,
            on_hand,
            reserved,
            ..
        } => {
            if let Some(sku) = product.skus.get_mut(sku_id) {
                sku.on_hand = *on_hand;
                sku.reserved = *reserved;
            }
        }
        StockReserved {
            reservation_id,
            items,
            ..
        } => {
            set_levels(&mut product, items);
            let items = items
                .iter()
                .map(|change| StockLine {
                    sku_id: change.sku_id,
                    quantity: change.quantity,
                })
                .collect();
            product.reservations.insert(
                *reservation_id,
                Reservation {
                    items,
                    status: ReservationStatus::Open,
                },
            );
        }
        StockReleased {
            reservation_id,
            items,
            ..
        } => {
            set_levels(&mut product, items);
            set_status(&mut product, reservation_id, ReservationStatus::Released);
        }
        StockCommitted {
            reservation_id,
            items,
            ..
        } => {
            set_levels(&mut product, items);
            set_status(&mut product, reservation_id, ReservationStatus::Committed);
        }
        StockReturned {
            reservation_id,
            items,
            ..
        } => {
            set_levels(&mut product, items);
            set_status(&mut product, reservation_id, ReservationStatus::Returned);
        }
        ProductDiscontinued { .. } => {
            product.discontinued = true;
            product
                .skus
                .values_mut()
                .for_each(|sku| sku.discontinued = true);
        }
        SkuDiscontinued { sku_id, .. } => {
            if let Some(sku) = product.skus.get_mut(sku_id) {
                sku.discontinued = true;
            }
        }
    }
    product
}

fn set_levels(product: &mut ProductDetails, changes: &[StockChange]) {
    for change in changes {
        if let Some(sku) = product.skus.get_mut(&change.sku_id) {
            sku.on_hand = change.on_hand;
            sku.reserved = change.reserved;
        }
    }
}

fn set_status(
    product: &mut ProductDetails,
    reservation_id: &ReservationId,
    status: ReservationStatus,
) {
    if let Some(reservation) = product.reservations.get_mut(reservation_id) {
        reservation.status = status;
    }
}
