//! Read-model views → the `commerce.query.v1` messages. Times become RFC 3339 strings, money
//! `Money { amount_minor, currency }`, enums their snake_case names (as documented in the
//! .proto file).

use aggregates::{
    Money,
    order::OrderStatus,
    payment::{PaymentMethod, PaymentStatus},
};
use chrono::{DateTime, SecondsFormat, Utc};
use projections::read_models::{
    cart_view::{CartLineView, CartView, LineProblem},
    catalog::{ProductView, SaleStatus, SkuView},
    checkouts::{CheckoutView, TimelineEntry},
    customers::{CustomerStatus, CustomerView},
    orders::{OrderLineView, OrderView},
    payments::{PaymentView, RefundView},
};
use proto::{common, query};

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn money(amount: Money) -> common::Money {
    common::Money {
        amount_minor: amount.amount_minor(),
        currency: amount.currency().to_string(),
    }
}

fn sale_status(status: SaleStatus) -> &'static str {
    match status {
        SaleStatus::Active => "active",
        SaleStatus::Discontinued => "discontinued",
    }
}

/// A catalog product with its SKUs.
pub fn product(view: &ProductView) -> query::Product {
    query::Product {
        product_id: view.product_id.to_string(),
        title: view.title.clone(),
        description: view.description.clone(),
        status: sale_status(view.status).to_owned(),
        skus: view.skus.iter().map(sku).collect(),
        created_at: time(view.created_at),
        updated_at: time(view.updated_at),
    }
}

fn sku(view: &SkuView) -> query::Sku {
    query::Sku {
        sku_id: view.sku_id.to_string(),
        price: Some(money(view.price)),
        attributes: view.attributes.clone().into_iter().collect(),
        on_hand: view.on_hand,
        reserved: view.reserved,
        available: view.available,
        status: sale_status(view.status).to_owned(),
        added_at: time(view.added_at),
        updated_at: time(view.updated_at),
    }
}

/// A customer's profile and balance.
pub fn customer(view: &CustomerView) -> query::Customer {
    query::Customer {
        customer_id: view.customer_id.to_string(),
        email: view.email.clone(),
        name: view.name.clone(),
        balance: Some(money(view.balance)),
        status: match view.status {
            CustomerStatus::Active => "active",
            CustomerStatus::Deactivated => "deactivated",
        }
        .to_owned(),
        registered_at: time(view.registered_at),
        updated_at: time(view.updated_at),
        deactivated_at: view.deactivated_at.map(time),
        version: view.stream_version,
    }
}

/// A customer's cart.
pub fn cart(view: &CartView) -> query::Cart {
    query::Cart {
        customer_id: view.customer_id.to_string(),
        lines: view.lines.iter().map(cart_line).collect(),
        total: view.total.map(money),
        valid: view.valid,
        updated_at: view.updated_at.map(time),
    }
}

fn cart_line(view: &CartLineView) -> query::CartLine {
    query::CartLine {
        product_id: view.product_id.to_string(),
        sku_id: view.sku_id.to_string(),
        title: view.title.clone(),
        unit_price: Some(money(view.unit_price)),
        quantity: view.quantity,
        line_total: Some(money(view.line_total)),
        available: view.available,
        valid: view.valid,
        problem: view.problem.map(|problem| {
            match problem {
                LineProblem::UnknownSku => "unknown_sku",
                LineProblem::NotSold => "not_sold",
                LineProblem::InsufficientStock { .. } => "insufficient_stock",
            }
            .to_owned()
        }),
    }
}

/// An order with its lines and timeline.
pub fn order(view: &OrderView) -> query::Order {
    let timeline = &view.timeline;
    query::Order {
        order_id: view.order_id.to_string(),
        customer_id: view.customer_id.to_string(),
        status: view.status.name().to_owned(),
        total: Some(money(view.total)),
        lines: view.lines.iter().map(order_line).collect(),
        item_count: view.item_count,
        payment_id: view.payment_id.map(|id| id.to_string()),
        paid: view.paid.map(money),
        refunded: view.refunded.map(money),
        cancel_reason: view.cancel_reason.clone(),
        refund_reason: view.refund_reason.clone(),
        timeline: Some(query::OrderTimeline {
            placed_at: time(timeline.placed_at),
            stock_reserved_at: timeline.stock_reserved_at.map(time),
            paid_at: timeline.paid_at.map(time),
            shipped_at: timeline.shipped_at.map(time),
            cancelled_at: timeline.cancelled_at.map(time),
            refunded_at: timeline.refunded_at.map(time),
            updated_at: time(timeline.updated_at),
        }),
        version: view.stream_version,
    }
}

fn order_line(view: &OrderLineView) -> query::OrderLine {
    query::OrderLine {
        product_id: view.product_id.to_string(),
        sku_id: view.sku_id.to_string(),
        title: view.title.clone(),
        unit_price: Some(money(view.unit_price)),
        quantity: view.quantity,
        line_total: Some(money(view.line_total)),
    }
}

/// Parses an order status name as the .proto file documents it.
pub fn order_status(name: &str) -> Option<OrderStatus> {
    OrderStatus::from_name(name)
}

fn payment_method(method: PaymentMethod) -> String {
    match method {
        PaymentMethod::Balance => "balance",
        PaymentMethod::External => "external",
    }
    .to_owned()
}

/// A payment with its refunds.
pub fn payment(view: &PaymentView) -> query::Payment {
    query::Payment {
        payment_id: view.payment_id.to_string(),
        order_id: view.order_id.to_string(),
        customer_id: view.customer_id.to_string(),
        method: payment_method(view.method),
        amount: Some(money(view.amount)),
        status: match view.status {
            PaymentStatus::Initiated => "initiated",
            PaymentStatus::Captured => "captured",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
        }
        .to_owned(),
        refunded: Some(money(view.refunded)),
        refunds: view.refunds.iter().map(refund).collect(),
        provider_reference: view.provider_reference.clone(),
        failure_reason: view.failure_reason.clone(),
        initiated_at: time(view.initiated_at),
        captured_at: view.captured_at.map(time),
        failed_at: view.failed_at.map(time),
        updated_at: time(view.updated_at),
        version: view.stream_version,
    }
}

fn refund(view: &RefundView) -> query::Refund {
    query::Refund {
        amount: Some(money(view.amount)),
        total_refunded: Some(money(view.total_refunded)),
        reason: view.reason.clone(),
        refunded_at: time(view.refunded_at),
    }
}

/// A checkout with its timeline.
pub fn checkout(view: &CheckoutView) -> query::Checkout {
    query::Checkout {
        order_id: view.order_id.to_string(),
        customer_id: view.customer_id.to_string(),
        payment_id: view.payment_id.to_string(),
        method: payment_method(view.method),
        total: Some(money(view.total)),
        status: view.status.to_owned(),
        reason: view.reason.clone(),
        deadline_at: time(view.deadline_at),
        started_at: time(view.started_at),
        updated_at: time(view.updated_at),
        timeline: view.timeline.iter().map(timeline_entry).collect(),
        version: view.stream_version,
    }
}

fn timeline_entry(entry: &TimelineEntry) -> query::CheckoutTimelineEntry {
    query::CheckoutTimelineEntry {
        version: entry.version,
        kind: entry.kind.clone(),
        step: entry.step.clone(),
        detail: entry.detail.clone(),
        at: time(entry.at),
    }
}
