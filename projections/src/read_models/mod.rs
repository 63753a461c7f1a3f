//! The read models, one file each, and the helpers they share.
//!
//! | model | store | categories | layout |
//! |---|---|---|---|
//! | [`cart_view`] | Redis | cart, product | a hash per cart + a private SKU copy |
//! | [`catalog`] | Redis | product | a hash per product and per SKU, a title index |
//! | [`customers`] | PostgreSQL | customer | `rm_customers` |
//! | [`orders`] | PostgreSQL | order | `rm_orders`, `rm_order_lines` |
//! | [`payments`] | PostgreSQL | payment | `rm_payments`, `rm_payment_refunds` |
//! | [`inventory_ledger`] | PostgreSQL | product | `rm_inventory_ledger` |
//! | [`checkouts`] | PostgreSQL | checkout | `rm_checkouts`, `rm_checkout_timeline` |
//!
//! [`registry`] names them all, with their stores and categories, for the other processes.
//!
//! Each module documents its keys or tables and offers small async readers for the query
//! services. Every model is a function of the events alone (see [`crate::projection`]): times
//! come from the events' own `at` fields, orderings from global positions.

use std::{collections::HashMap, str::FromStr, sync::Arc};

use aggregates::{Currency, DomainEvent};
use event_store::RecordedEvent;

use crate::{Projection, ProjectionError, RedisWrite};

pub mod cart_view;
pub mod catalog;
pub mod checkouts;
pub mod customers;
pub mod inventory_ledger;
pub mod orders;
pub mod payments;
pub mod registry;

/// Every read model of the system, in start order.
pub fn all() -> Vec<Projection> {
    vec![
        Projection::Postgres(Arc::new(customers::Customers)),
        Projection::Postgres(Arc::new(orders::Orders)),
        Projection::Postgres(Arc::new(payments::Payments)),
        Projection::Postgres(Arc::new(inventory_ledger::InventoryLedger)),
        Projection::Postgres(Arc::new(checkouts::Checkouts)),
        Projection::Redis(Arc::new(catalog::Catalog)),
        Projection::Redis(Arc::new(cart_view::CartViewProjection)),
    ]
}

/// Why a reader could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// PostgreSQL failed; usually transient.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Redis failed; usually transient.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored value is not what the projection writes: a bug, or keys written by something
    /// else. Not retryable.
    #[error("corrupt read model: {0}")]
    Corrupt(String),
    /// A paging cursor that no page ever returned. Handle as invalid input.
    #[error("unknown cursor {0:?}")]
    InvalidCursor(String),
}

/// Decodes `event` as an `E` when its type is one of `E`'s; `None` for any other type (events
/// of another aggregate sharing the category, or of a category the model reads for other
/// reasons), which the models ignore.
pub(crate) fn decode<E: DomainEvent>(event: &RecordedEvent) -> Result<Option<E>, ProjectionError> {
    if !E::SCHEMAS
        .iter()
        .any(|(event_type, _)| *event_type == event.event_type)
    {
        return Ok(None);
    }
    E::from_stored(&event.event_type, event.schema_version, &event.data)
        .map(Some)
        .map_err(|err| ProjectionError::decode(event, err))
}

/// A global position or stream version as PostgreSQL's `bigint`.
pub(crate) fn int8(value: u64) -> i64 {
    // Positions and versions come from `bigint` columns of the log, so they always fit.
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Page size bounds shared by the readers: at least 1, at most 500.
pub(crate) fn page_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 500))
}

/// Parses a stored currency code.
pub(crate) fn currency(code: &str) -> Result<Currency, ReadError> {
    Currency::new(code).map_err(|err| ReadError::Corrupt(err.to_string()))
}

/// `HSET key field value …`.
pub(crate) fn hset<'a>(
    key: String,
    pairs: impl IntoIterator<Item = (&'a str, String)>,
) -> RedisWrite {
    let args = pairs
        .into_iter()
        .flat_map(|(field, value)| [field.to_owned(), value]);
    RedisWrite::new("HSET", key, args)
}

/// A Redis hash as read back with `HGETALL`, with typed field access.
pub(crate) struct Hash(pub HashMap<String, String>);

impl Hash {
    /// The field as text; a missing field means the model is corrupt.
    pub fn text(&self, field: &str) -> Result<&str, ReadError> {
        self.0
            .get(field)
            .map(String::as_str)
            .ok_or_else(|| ReadError::Corrupt(format!("missing hash field {field:?}")))
    }

    /// The field parsed as `T`.
    pub fn parse<T: FromStr>(&self, field: &str) -> Result<T, ReadError>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.text(field)?;
        text.parse()
            .map_err(|err| ReadError::Corrupt(format!("hash field {field:?} = {text:?}: {err}")))
    }

    /// The optional field parsed as `T`.
    pub fn parse_opt<T: FromStr>(&self, field: &str) -> Result<Option<T>, ReadError>
    where
        T::Err: std::fmt::Display,
    {
        match self.0.contains_key(field) {
            true => self.parse(field).map(Some),
            false => Ok(None),
        }
    }
}
