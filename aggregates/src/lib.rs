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
pub use customer::Customer;
pub use error::{DecodeError, DomainError, ErrorKind};
pub use event::DomainEvent;
pub use ids::{CustomerId, OrderId, PaymentId, ProductId, ReservationId, SkuId};
pub use money::{Currency, Money, MoneyError};
pub use order::Order;
pub use payment::Payment;
pub use product::Product;
