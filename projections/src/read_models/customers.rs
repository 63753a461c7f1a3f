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

use aggregates::{CustomerId, Money, customer::CustomerEvent};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{ReadError, currency, decode, int8};
use crate::{PostgresProjection, ProjectionError};

/// The `customers` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Customers;

impl PostgresProjection for Customers {
    fn name(&self) -> &'static str {
        "customers"
    }

    fn categories(&self) -> &'static [&'static str] {
        &["customer"]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_customers"]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
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
            let result = sqlx::query(
                "UPDATE rm_customers SET balance_minor = $2, currency = $3, updated_at = $4, \
                     stream_version = $5 \
                 WHERE customer_id = $1",
            )
            .bind(customer_id.0)
            .bind(balance.amount_minor())
            .bind(balance.currency().to_string())
            .bind(at)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            (customer_id, result)
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
    pub customer_id: CustomerId,
    pub email: String,
    pub name: String,
    /// Prepaid balance.
    pub balance: Money,
    pub status: CustomerStatus,
    pub registered_at: DateTime<Utc>,
    /// Time of the last event applied.
    pub updated_at: DateTime<Utc>,
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
