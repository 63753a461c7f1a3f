//! The cart's state and `evolve`, which copies facts from events and decides nothing.

use super::CartEvent;
use crate::{
    error::DomainError,
    ids::{CustomerId, ProductId, SkuId},
    money::{Money, MoneyError},
    order::OrderLine,
};

/// A cart's state. The default is an empty cart nobody has used yet.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CartState {
    /// The owner, once the first item was added.
    pub customer_id: Option<CustomerId>,
    /// Lines in the order they were first added.
    pub lines: Vec<CartLine>,
}

/// One SKU in the cart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CartLine {
    /// The SKU's product.
    pub product_id: ProductId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Title shown.
    pub title: String,
    /// Unit price when last added.
    pub unit_price: Money,
    /// Items, 1..=99.
    pub quantity: u32,
}

impl CartState {
    /// The line of `sku_id`, if any.
    pub fn line(&self, sku_id: &SkuId) -> Option<&CartLine> {
        self.lines.iter().find(|line| line.sku_id == *sku_id)
    }

    /// Sum of unit price × quantity over the lines; `None` for an empty cart.
    pub fn total(&self) -> Result<Option<Money>, MoneyError> {
        let mut lines = self.lines.iter();
        let Some(first) = lines.next() else {
            return Ok(None);
        };
        let mut total = first.unit_price.checked_mul(first.quantity)?;
        for line in lines {
            total = total.checked_add(&line.unit_price.checked_mul(line.quantity)?)?;
        }
        Ok(Some(total))
    }

    /// The lines as an order snapshot for `PlaceOrder` (at the cart's last known prices; the
    /// order service may re-price them first).
    pub fn order_lines(&self) -> Vec<OrderLine> {
        self.lines
            .iter()
            .map(|line| OrderLine {
                product_id: line.product_id,
                sku_id: line.sku_id,
                title: line.title.clone(),
                unit_price: line.unit_price,
                quantity: line.quantity,
            })
            .collect()
    }

    /// `Ok` if `customer_id` owns this cart (or the cart was never used).
    pub(super) fn ensure_owner(&self, customer_id: CustomerId) -> Result<(), DomainError> {
        match self.customer_id {
            Some(owner) if owner != customer_id => Err(DomainError::Invalid {
                field: "customer_id",
                reason: "does not own this cart",
            }),
            _ => Ok(()),
        }
    }

    /// The line of `sku_id`, or `NotFound`.
    pub(super) fn existing_line(&self, sku_id: &SkuId) -> Result<&CartLine, DomainError> {
        self.line(sku_id).ok_or_else(|| DomainError::NotFound {
            entity: "cart line",
            id: sku_id.to_string(),
        })
    }
}

/// Applies one event.
pub(super) fn evolve(mut state: CartState, event: &CartEvent) -> CartState {
    match event {
        CartEvent::CartItemAdded {
            customer_id,
            product_id,
            sku_id,
            title,
            unit_price,
            line_quantity,
            ..
        } => {
            state.customer_id = Some(*customer_id);
            let line = CartLine {
                product_id: *product_id,
                sku_id: *sku_id,
                title: title.clone(),
                unit_price: *unit_price,
                quantity: *line_quantity,
            };
            match state.lines.iter_mut().find(|l| l.sku_id == *sku_id) {
                Some(existing) => *existing = line,
                None => state.lines.push(line),
            }
        }
        CartEvent::CartItemQuantityChanged {
            sku_id, quantity, ..
        } => {
            if let Some(line) = state.lines.iter_mut().find(|l| l.sku_id == *sku_id) {
                line.quantity = *quantity;
            }
        }
        CartEvent::CartItemRemoved { sku_id, .. } => {
            state.lines.retain(|line| line.sku_id != *sku_id);
        }
        CartEvent::CartCleared { .. } => state.lines.clear(),
    }
    state
}
