//! Read model `customers` (PostgreSQL, category `customer`): one row per customer.
//!
//! Table `rm_customers`, primary key `customer_id`:
//!
//! | column | from |
//! |---|---|
//! | `email`, `name` | `CustomerRegistered`, `CustomerProfileUpdated` |
//! | `balance_minor`, `currency` | currency at registration; balance = the `balance` carried by `BalanceDeposited` / `BalanceDebited` |
//! | `status` | `active`, or `deactivated` after `CustomerDeactivated` |
//! | `registered_at`, `updated_at`, `deactivated_at` | the events' `at` |
//! | `stream_version` | version of the last event applied (a consistency token) |
//!
//! Reader: [`get`].

use std::collections::HashMap;

use aggregates::{CustomerId, Money, customer::CustomerEvent};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{ReadError, currency, decode, int8, registry};
use crate::{PostgresProjection, ProjectionError};

/// The `customers` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Customers;

impl PostgresProjection for Customers {
    fn name(&self) -> &'static str {
        registry::CUSTOMERS.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::CUSTOMERS.categories
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_customers"]
    }

    fn ddl(&self) -> &'static str {
        include_str!("ddl/customers.sql")
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }

    fn apply_all<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply_all(tx, events))
    }
}

/// The customer and the new balance of a `BalanceDeposited` / `BalanceDebited`.
fn balance_change(event: &CustomerEvent) -> Option<(CustomerId, &Money, DateTime<Utc>)> {
    match event {
        CustomerEvent::BalanceDeposited {
            customer_id,
            balance,
            at,
            ..
        }
        | CustomerEvent::BalanceDebited {
            customer_id,
            balance,
            at,
            ..
        } => Some((*customer_id, balance, *at)),
        _ => None,
    }
}

/// The customer an event is about.
fn customer_of(event: &CustomerEvent) -> CustomerId {
    match event {
        CustomerEvent::CustomerRegistered { customer_id, .. }
        | CustomerEvent::CustomerProfileUpdated { customer_id, .. }
        | CustomerEvent::BalanceDeposited { customer_id, .. }
        | CustomerEvent::BalanceDebited { customer_id, .. }
        | CustomerEvent::CustomerDeactivated { customer_id, .. } => *customer_id,
    }
}

/// Applies a batch. A balance event sets every column any earlier balance event of its customer
/// set (it carries the new balance, not the delta), so of a customer's balance events that no
/// other event of that customer follows in the batch only the last matters: those last ones go
/// out in one multi-row `UPDATE`, after everything else was applied one by one, in order.
async fn apply_all(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), ProjectionError> {
    let decoded = events
        .iter()
        .map(|event| decode::<CustomerEvent>(event))
        .collect::<Result<Vec<_>, _>>()?;
    // Per customer: the index of its last balance event and of its last other event.
    let mut last_balance: HashMap<CustomerId, usize> = HashMap::new();
    let mut last_other: HashMap<CustomerId, usize> = HashMap::new();
    for (index, event) in decoded.iter().enumerate() {
        let Some(event) = event else { continue };
        match balance_change(event) {
            Some((customer_id, ..)) => last_balance.insert(customer_id, index),
            None => last_other.insert(customer_of(event), index),
        };
    }
    let trailing = |customer_id: &CustomerId, index: usize| {
        last_other
            .get(customer_id)
            .is_none_or(|other| index > *other)
    };
    for (index, event) in decoded.iter().enumerate() {
        let Some(decoded_event) = event else { continue };
        match balance_change(decoded_event) {
            Some((customer_id, ..)) if trailing(&customer_id, index) => {}
            _ => apply(tx, events[index]).await?,
        }
    }
    let last: Vec<_> = last_balance
        .iter()
        .filter(|(customer_id, index)| trailing(customer_id, **index))
        .filter_map(|(_, index)| {
            let (customer_id, balance, at) = decoded[*index].as_ref().and_then(balance_change)?;
            Some((customer_id, balance, at, int8(events[*index].version)))
        })
        .collect();
    set_balances(tx, &last).await
}

/// Sets each customer's balance (and the columns a balance event sets) with one multi-row
/// `UPDATE`: (customer, new balance, event time, stream version).
async fn set_balances(
    tx: &mut PgConnection,
    changes: &[(CustomerId, &Money, DateTime<Utc>, i64)],
) -> Result<(), ProjectionError> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = changes.iter().map(|change| change.0.0).collect();
    let balances: Vec<i64> = changes
        .iter()
        .map(|change| change.1.amount_minor())
        .collect();
    let currencies: Vec<String> = changes
        .iter()
        .map(|change| change.1.currency().to_string())
        .collect();
    let ats: Vec<DateTime<Utc>> = changes.iter().map(|change| change.2).collect();
    let versions: Vec<i64> = changes.iter().map(|change| change.3).collect();
    let result = sqlx::query(
        "UPDATE rm_customers AS c SET balance_minor = u.balance, currency = u.currency, \
             updated_at = u.at, stream_version = u.version \
         FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::timestamptz[], $5::int8[]) \
             AS u(id, balance, currency, at, version) \
         WHERE c.customer_id = u.id",
    )
    .bind(&ids)
    .bind(&balances)
    .bind(&currencies)
    .bind(&ats)
    .bind(&versions)
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == changes.len() as u64 {
        Ok(())
    } else {
        Err(ProjectionError::Inconsistent(format!(
            "balance changes for {} customers, {} of them in the customers read model",
            changes.len(),
            result.rows_affected()
        )))
    }
}

async fn apply(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let Some(decoded) = decode::<CustomerEvent>(event)? else {
        return Ok(());
    };
    let version = int8(event.version);
    let (customer_id, result) = match decoded {
        CustomerEvent::CustomerRegistered {
            customer_id,
            email,
            name,
            currency,
            at,
        } => {
            let result = sqlx::query(
                "INSERT INTO rm_customers (customer_id, email, name, balance_minor, currency, \
                     status, registered_at, updated_at, stream_version) \
                 VALUES ($1, $2, $3, 0, $4, 'active', $5, $5, $6) \
                 ON CONFLICT (customer_id) DO NOTHING",
            )
            .bind(customer_id.0)
            .bind(email)
            .bind(name)
            .bind(currency.to_string())
            .bind(at)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            (customer_id, result)
        }
        CustomerEvent::CustomerProfileUpdated {
            customer_id,
            email,
            name,
            at,
        } => {
            let result = sqlx::query(
                "UPDATE rm_customers SET email = $2, name = $3, updated_at = $4, \
                     stream_version = $5 \
                 WHERE customer_id = $1",
            )
            .bind(customer_id.0)
            .bind(email)
            .bind(name)
            .bind(at)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            (customer_id, result)
        }
        CustomerEvent::BalanceDeposited {
            customer_id,
            balance,
            at,
            ..
        }
        | CustomerEvent::BalanceDebited {
            customer_id,
            balance,
            at,
            ..
        } => {
            return set_balances(tx, &[(customer_id, &balance, at, version)]).await;
        }
        CustomerEvent::CustomerDeactivated { customer_id, at } => {
            let result = sqlx::query(
                "UPDATE rm_customers SET status = 'deactivated', deactivated_at = $2, \
                     updated_at = $2, stream_version = $3 \
                 WHERE customer_id = $1",
            )
            .bind(customer_id.0)
            .bind(at)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            (customer_id, result)
        }
    };
    if result.rows_affected() == 1 {
        Ok(())
    } else {
        Err(ProjectionError::Inconsistent(format!(
            "{} for customer {customer_id} does not fit the customers read model",
            event.event_type
        )))
    }
}

/// Whether a customer can still act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerStatus {
    /// Registered and not deactivated.
    Active,
    /// Closed (final).
    Deactivated,
}

/// A customer as the query services show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerView {
    /// The customer's id.
    pub customer_id: CustomerId,
    /// Contact address given at registration.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Prepaid balance.
    pub balance: Money,
    /// Whether the account is active.
    pub status: CustomerStatus,
    /// When the customer registered.
    pub registered_at: DateTime<Utc>,
    /// Time of the last event applied.
    pub updated_at: DateTime<Utc>,
    /// When the account was deactivated, if it was.
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Version of the customer stream this row reflects.
    pub stream_version: u64,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    customer_id: Uuid,
    email: String,
    name: String,
    balance_minor: i64,
    currency: String,
    status: String,
    registered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deactivated_at: Option<DateTime<Utc>>,
    stream_version: i64,
}

/// The customer `customer_id`, if the read model has seen its registration.
pub async fn get(
    pool: &PgPool,
    customer_id: CustomerId,
) -> Result<Option<CustomerView>, ReadError> {
    let row: Option<CustomerRow> = sqlx::query_as(
        "SELECT customer_id, email, name, balance_minor, currency, status, registered_at, \
             updated_at, deactivated_at, stream_version \
         FROM rm_customers WHERE customer_id = $1",
    )
    .bind(customer_id.0)
    .fetch_optional(pool)
    .await?;
    row.map(CustomerView::try_from).transpose()
}

impl TryFrom<CustomerRow> for CustomerView {
    type Error = ReadError;

    fn try_from(row: CustomerRow) -> Result<Self, ReadError> {
        let status = match row.status.as_str() {
            "active" => CustomerStatus::Active,
            "deactivated" => CustomerStatus::Deactivated,
            other => return Err(ReadError::Corrupt(format!("customer status {other:?}"))),
        };
        Ok(Self {
            customer_id: CustomerId(row.customer_id),
            email: row.email,
            name: row.name,
            balance: Money::new(row.balance_minor, currency(&row.currency)?),
            status,
            registered_at: row.registered_at,
            updated_at: row.updated_at,
            deactivated_at: row.deactivated_at,
            stream_version: row.stream_version as u64,
        })
    }
}
