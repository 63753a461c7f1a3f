//! The order's state and `evolve`, which copies facts from events and decides nothing.

use super::{OrderEvent, PricedLine};
use crate::{
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
};

/// Where an order is in its life (see the module's diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OrderStatus {
    /// Waiting for stock.
    Placed,
    /// Stock held; waiting for payment.
    StockReserved,
    /// Paid; waiting for shipping.
    Paid,
    /// On its way.
    Shipped,
    /// Cancelled before payment (final).
    Cancelled,
    /// Refunded after payment (final).
    Refunded,
}

impl OrderStatus {
    /// Every status, in the order of the module's diagram.
    pub const ALL: [Self; 6] = [
        Self::Placed,
        Self::StockReserved,
        Self::Paid,
        Self::Shipped,
        Self::Cancelled,
        Self::Refunded,
    ];

    /// The snake_case name other processes know the status by: the `orders` read model stores
    /// it, the query API returns it (`Order.status`) and the HTTP API filters by it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::StockReserved => "stock_reserved",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// The status named `name` (as [`name`](Self::name) spells it), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.name() == name)
    }

    /// Lowercase words, as used in error messages: the [`name`](Self::name) with a space for
    /// the underscore.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::StockReserved => "stock reserved",
            other => other.name(),
        }
    }
}

/// An order's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub enum OrderState {
    /// No events yet.
    #[default]
    NotPlaced,
    /// Placed, in any status since.
    Existing(OrderDetails),
}

/// A placed order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrderDetails {
    /// The order.
    pub order_id: OrderId,
    /// The buyer.
    pub customer_id: CustomerId,
    /// Lines with their totals.
    pub lines: Vec<PricedLine>,
    /// Sum of the line totals.
    pub total: Money,
    /// Current status.
    pub status: OrderStatus,
    /// The payment, once paid.
    pub payment_id: Option<PaymentId>,
}

/// Applies one event.
pub(super) fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
    use OrderEvent::*;
    let mut order = match (state, event) {
        (
            OrderState::NotPlaced,
            OrderPlaced {
                order_id,
                customer_id,
                lines,
                total,
                ..
            },
        ) => {
            return OrderState::Existing(OrderDetails {
                order_id: *order_id,
                customer_id: *customer_id,
                lines: lines.clone(),
                total: *total,
                status: OrderStatus::Placed,
                payment_id: None,
            });
        }
        (OrderState::Existing(order), _) => order,
        // `decide` never writes anything else to an empty stream.
        (state, _) => return state,
    };
    match event {
        OrderPlaced { .. } => {}
        OrderStockReserved { .. } => order.status = OrderStatus::StockReserved,
        OrderPaid { payment_id, .. } => {
            order.status = OrderStatus::Paid;
            order.payment_id = Some(*payment_id);
        }
        OrderShipped { .. } => order.status = OrderStatus::Shipped,
        OrderCancelled { .. } => order.status = OrderStatus::Cancelled,
        OrderRefunded { .. } => order.status = OrderStatus::Refunded,
    }
    OrderState::Existing(order)
}
