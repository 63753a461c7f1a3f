//! Cart: one per customer (stream `cart-<customer id>`), a list of SKU lines with quantities.
//!
//! The cart cannot query the catalog (the aggregate does no I/O), so `AddItem` and
//! `ChangeQuantity` carry the SKU facts the caller looked up: title, unit price, whether it is on
//! sale, and its available stock. Those facts are advisory: stock is only really held when the
//! order reserves it, and the order is priced from its own snapshot.
//!
//! Rules: 1..=[`MAX_LINE_QUANTITY`] items per line (adding to a line must respect the cap), at
//! most [`MAX_LINES`] lines, only SKUs on sale, one currency per cart, no more than the stock
//! the caller saw.

use chrono::{DateTime, Utc};

use crate::{
    aggregate::Aggregate,
    error::DomainError,
    ids::{CustomerId, ProductId, SkuId},
    money::{Money, MoneyError},
    order::OrderLine,
    rules,
};

mod events;
#[cfg(test)]
mod tests;

pub use events::CartEvent;

/// The cart aggregate (stream `cart-<customer id>`). It needs no creation command: the first
/// item added starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cart;

/// Most items on one line.
pub const MAX_LINE_QUANTITY: u32 = 99;
/// Most lines in one cart.
pub const MAX_LINES: usize = 100;

/// A command to a customer's cart. Each carries the cart's `customer_id`, which must match the
/// stream it is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartCommand {
    /// Adds `quantity` items of a SKU: a new line, or more on the existing line.
    AddItem {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The SKU's product (needed later to reserve stock in the right stream).
        product_id: ProductId,
        /// The SKU.
        sku_id: SkuId,
        /// Items to add, 1..=99; the line must stay within 99.
        quantity: u32,
        /// Title to show, as looked up.
        title: String,
        /// Current unit price, as looked up; the line takes this price.
        unit_price: Money,
        /// Whether the SKU is on sale, as looked up.
        sku_active: bool,
        /// Available stock, as looked up; the line may not exceed it.
        available_stock: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Sets a line's quantity (1..=99; use `RemoveItem` to remove). The same quantity changes
    /// nothing.
    ChangeQuantity {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The line's SKU.
        sku_id: SkuId,
        /// New quantity.
        quantity: u32,
        /// Available stock, as looked up; checked only when the quantity grows.
        available_stock: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Removes a line.
    RemoveItem {
        /// The cart's owner.
        customer_id: CustomerId,
        /// The line's SKU.
        sku_id: SkuId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Removes every line (e.g. after checkout). Clearing an empty cart changes nothing.
    Clear {
        /// The cart's owner.
        customer_id: CustomerId,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A cart's state. The default is an empty cart nobody has used yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CartState {
    /// The owner, once the first item was added.
    pub customer_id: Option<CustomerId>,
    /// Lines in the order they were first added.
    pub lines: Vec<CartLine>,
}

/// One SKU in the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    fn ensure_owner(&self, customer_id: CustomerId) -> Result<(), DomainError> {
        match self.customer_id {
            Some(owner) if owner != customer_id => Err(DomainError::Invalid {
                field: "customer_id",
                reason: "does not own this cart",
            }),
            _ => Ok(()),
        }
    }

    /// The line of `sku_id`, or `NotFound`.
    fn existing_line(&self, sku_id: &SkuId) -> Result<&CartLine, DomainError> {
        self.line(sku_id).ok_or_else(|| DomainError::NotFound {
            entity: "cart line",
            id: sku_id.to_string(),
        })
    }
}

impl Aggregate for Cart {
    const CATEGORY: &'static str = "cart";
    type Id = CustomerId;
    type Command = CartCommand;
    type Event = CartEvent;
    type State = CartState;
    type Error = DomainError;

    fn decide(state: &CartState, command: CartCommand) -> Result<Vec<CartEvent>, DomainError> {
        match command {
            CartCommand::AddItem {
                customer_id,
                product_id,
                sku_id,
                quantity,
                title,
                unit_price,
                sku_active,
                available_stock,
                at,
            } => {
                let quantity = rules::quantity("quantity", quantity, MAX_LINE_QUANTITY)?;
                let title = rules::text("title", &title, rules::MAX_SHORT_TEXT)?;
                let unit_price = rules::positive("unit_price", unit_price)?;
                state.ensure_owner(customer_id)?;
                if !sku_active {
                    return Err(DomainError::Inactive {
                        entity: "sku",
                        id: sku_id.to_string(),
                        status: "not on sale",
                    });
                }
                let line_quantity = match state.line(&sku_id) {
                    Some(line) => line.quantity + quantity,
                    None if state.lines.len() >= MAX_LINES => {
                        return Err(DomainError::CartFull {
                            max_lines: MAX_LINES,
                        });
                    }
                    None => quantity,
                };
                if line_quantity > MAX_LINE_QUANTITY {
                    return Err(DomainError::LineQuantityExceeded {
                        sku_id,
                        quantity: line_quantity,
                        max: MAX_LINE_QUANTITY,
                    });
                }
                if let Some(first) = state.lines.first() {
                    first.unit_price.ensure_same_currency(&unit_price)?;
                }
                if line_quantity > available_stock {
                    return Err(DomainError::InsufficientStock {
                        sku_id,
                        available: available_stock,
                        requested: line_quantity,
                    });
                }
                Ok(vec![CartEvent::CartItemAdded {
                    customer_id,
                    product_id,
                    sku_id,
                    title,
                    unit_price,
                    quantity,
                    line_quantity,
                    at,
                }])
            }
            CartCommand::ChangeQuantity {
                customer_id,
                sku_id,
                quantity,
                available_stock,
                at,
            } => {
                let quantity = rules::quantity("quantity", quantity, MAX_LINE_QUANTITY)?;
                state.ensure_owner(customer_id)?;
                let previous_quantity = state.existing_line(&sku_id)?.quantity;
                if quantity == previous_quantity {
                    return Ok(vec![]);
                }
                if quantity > previous_quantity && quantity > available_stock {
                    return Err(DomainError::InsufficientStock {
                        sku_id,
                        available: available_stock,
                        requested: quantity,
                    });
                }
                Ok(vec![CartEvent::CartItemQuantityChanged {
                    customer_id,
                    sku_id,
                    quantity,
                    previous_quantity,
                    at,
                }])
            }
            CartCommand::RemoveItem {
                customer_id,
                sku_id,
                at,
            } => {
                state.ensure_owner(customer_id)?;
                state.existing_line(&sku_id)?;
                Ok(vec![CartEvent::CartItemRemoved {
                    customer_id,
                    sku_id,
                    at,
                }])
            }
            CartCommand::Clear { customer_id, at } => {
                state.ensure_owner(customer_id)?;
                if state.lines.is_empty() {
                    return Ok(vec![]);
                }
                Ok(vec![CartEvent::CartCleared { customer_id, at }])
            }
        }
    }

    fn evolve(mut state: CartState, event: &CartEvent) -> CartState {
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
}
