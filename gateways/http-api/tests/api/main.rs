//! Router tests of the HTTP gateway: the real router and middleware, in front of an in-process
//! fake query service ([`fake`]) over canned data ([`canned`]) that checks the forwarded token and records what it received.
//! [`full_stack`] puts the gateway in front of the real query service over real read models;
//! [`webhooks`] the payment webhook in front of the real payment command service.

mod auth;
mod canned;
mod carts;
mod checkouts;
mod consistency;
mod customers;
mod errors;
mod fake;
mod full_stack;
mod health;
mod helpers;
mod openapi;
mod orders;
mod payments;
mod products;
mod request_id;
mod server;
mod webhooks;
