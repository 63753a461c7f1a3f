//! End-to-end tests of the command services: the real `App` on 127.0.0.1:0, a real tonic
//! client, and a fresh migrated PostgreSQL database per test.

mod auth;
mod cache;
mod cart;
mod checkout;
mod concurrency;
mod customer;
mod dependencies;
mod helpers;
mod idempotency;
mod order;
mod payment;
mod product;
mod server;
