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

use crate::{aggregate::Aggregate, error::DomainError, ids::CustomerId, rules};

mod commands;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::CartCommand;
pub use events::CartEvent;
pub use state::{CartLine, CartState};

/// The cart aggregate (stream `cart-<customer id>`). It needs no creation command: the first
/// item added starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cart;

/// Most items on one line.
pub const MAX_LINE_QUANTITY: u32 = 99;
/// Most lines in one cart.
pub const MAX_LINES: usize = 100;

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

    fn evolve(state: CartState, event: &CartEvent) -> CartState {
        state::evolve(state, event)
    }
}
