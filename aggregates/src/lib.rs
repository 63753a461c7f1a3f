//! The pure domain of the shop: one module per aggregate, each with its commands, past-tense
//! events, state, `decide` and `evolve`.
//!
//! | module | aggregate | stream |
//! |---|---|---|
//! | [`customer`] | [`Customer`] | `customer-<customer id>` |
//! | [`product`] | [`Product`] (with its SKUs and their stock) | `product-<product id>` |
//! | [`cart`] | [`Cart`] (one per customer) | `cart-<customer id>` |
//! | [`order`] | [`Order`] | `order-<order id>` |
//! | [`payment`] | [`Payment`] | `payment-<payment id>` |
//! | [`checkout`] | [`Checkout`], the process manager of a purchase | `checkout-<order id>` |
//!
//! Every aggregate has the same shape (the product's files are the example):
//!
//! | file | holds |
//! |---|---|
//! | `<aggregate>.rs` | module docs (rules, state diagram), the unit type, its [`Aggregate`] impl: `decide` and the helpers it calls |
//! | `<aggregate>/commands.rs` | the command enum and the values commands carry |
//! | `<aggregate>/events.rs` | the event enum and its storage contract: one `domain_event!` list of event types with their schema versions, plus any upcaster |
//! | `<aggregate>/state.rs` | the state types and `evolve`, which copies facts from events and decides nothing |
//! | `<aggregate>/tests.rs` (and `<aggregate>/tests/` when it grows) | given/when/then tests |
//!
//! The parent module re-exports the public types, so callers name them by module
//! (`aggregates::order::OrderEvent`, `aggregates::product::StockLine`), whatever file they live
//! in.
//!
//! [`CATEGORIES`] lists every aggregate's stream category: the one list the relay, the
//! projections and the query side use.
//!
//! Shared: the [`Aggregate`] contract, the [`DomainEvent`] storage contract (event type, schema
//! version, JSON payload, upcasting), [`Money`], typed ids, and [`DomainError`] with its
//! [`ErrorKind`] for the edges.
//!
//! This crate must never depend on tokio, sqlx, tonic, redis or rocketmq: Cargo enforces that the
//! domain stays deterministic and testable without I/O. Nothing here reads a clock or a random
//! number generator: time and ids arrive in commands.
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod cart;
pub mod checkout;
pub mod customer;
pub mod error;
pub mod event;
pub mod ids;
pub mod money;
pub mod order;
pub mod payment;
pub mod product;
mod rules;
pub mod testing;

pub use aggregate::Aggregate;
pub use cart::Cart;
pub use checkout::Checkout;
pub use customer::Customer;
pub use error::{DecodeError, DomainError, ErrorKind};
pub use event::DomainEvent;
pub use ids::{CustomerId, OrderId, PaymentId, ProductId, ReservationId, SkuId};
pub use money::{Currency, Money, MoneyError};
pub use order::Order;
pub use payment::Payment;
pub use product::Product;

/// The stream category of every aggregate (each one's [`Aggregate::CATEGORY`]), in the order of
/// the table above: the bounded contexts, and hence the event topics. Adding an aggregate is
/// adding it here.
pub const CATEGORIES: [&str; 6] = [
    Customer::CATEGORY,
    Product::CATEGORY,
    Cart::CATEGORY,
    Order::CATEGORY,
    Payment::CATEGORY,
    Checkout::CATEGORY,
];
