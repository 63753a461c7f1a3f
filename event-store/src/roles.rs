//! The services' database roles (`docs/database-roles.md`).
//!
//! The migrations create one NOLOGIN group per service (`commerce_<role>`) holding its
//! privileges; each service connects as a login role `commerce_<role>_login` that is a member of
//! its group and pinned to it (`ALTER ROLE … SET role`), so every session of that login runs as
//! the group: what it creates is owned by the group, and row-level security sees the group.
//! Logins carry passwords, so the migrations cannot make them: [`ensure_logins`] does, from the
//! passwords in the settings (`commerce-migrate` runs it after migrating). Roles are
//! cluster-wide: made once for every database of the server.

use std::collections::BTreeMap;

use settings::ExposeSecret;
use sqlx::PgConnection;

/// Every service role: the `<role>` of `commerce_<role>` and `commerce_<role>_login`.
pub const SERVICE_ROLES: [&str; 10] = [
    "customer",
    "product",
    "cart",
    "order",
    "payment",
    "checkout",
    "relay",
    "projections",
    "query",
    "audit",
];

/// The NOLOGIN group holding `role`'s privileges.
pub fn group(role: &str) -> String {
    format!("commerce_{role}")
}

/// The login role a `role` service connects as.
pub fn login(role: &str) -> String {
    format!("commerce_{role}_login")
}

/// Why logins could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    /// A password was given for a role the system does not have (a typo in a variable name).
    #[error("unknown database role {0:?}; the roles are {roles}", roles = SERVICE_ROLES.join(", "))]
    UnknownRole(String),
    /// An empty password would be refused by PostgreSQL's password authentication.
    #[error("the password of database role {0:?} is empty")]
    EmptyPassword(String),
    /// The server refused a statement (the owner lacks CREATEROLE, the group is missing because
    /// the migrations have not run, …).
    #[error("making login role {login}: {source}")]
    Database {
        /// The login being made.
        login: String,
        /// The server's error.
        #[source]
        source: sqlx::Error,
    },
}

/// Creates or updates the login of each role in `passwords` (keys as in [`SERVICE_ROLES`]): a
/// LOGIN role with that password and no other attribute (no superuser, no CREATEDB, no
/// CREATEROLE, no BYPASSRLS), a member of its group, whose sessions run as the group.
/// Idempotent: re-running with a new password rotates it. Returns the logins made.
pub async fn ensure_logins(
    conn: &mut PgConnection,
    passwords: &BTreeMap<String, settings::SecretString>,
) -> Result<Vec<String>, RolesError> {
    for (role, password) in passwords {
        if !SERVICE_ROLES.contains(&role.as_str()) {
            return Err(RolesError::UnknownRole(role.clone()));
        }
        if password.expose_secret().is_empty() {
            return Err(RolesError::EmptyPassword(role.clone()));
        }
    }
    let mut made = Vec::new();
    for (role, password) in passwords {
        let (group, login) = (group(role), login(role));
        let database = |source| RolesError::Database {
            login: login.clone(),
            source,
        };
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(&login)
                .fetch_one(&mut *conn)
                .await
                .map_err(database)?;
        // DDL takes no parameters: the server quotes the name (%I) and the password (%L) itself.
        let statements: Vec<String> = sqlx::query_scalar(
            "SELECT unnest(ARRAY[
                 format(CASE WHEN $4 THEN 'ALTER ROLE %I' ELSE 'CREATE ROLE %I' END
                        || ' WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT'
                        || ' PASSWORD %L', $1, $3),
                 format('GRANT %I TO %I', $2, $1),
                 format('ALTER ROLE %I SET role = %L', $1, $2)])",
        )
        .bind(&login)
        .bind(&group)
        .bind(password.expose_secret())
        .bind(exists)
        .fetch_all(&mut *conn)
        .await
        .map_err(database)?;
        for statement in statements {
            sqlx::raw_sql(&statement)
                .execute(&mut *conn)
                .await
                .map_err(database)?;
        }
        made.push(login);
    }
    Ok(made)
}

/// `url` with its user replaced by `role`'s login and its password removed (a `.pgpass` file or
/// `PGPASSFILE` supplies it): how the scripts and the test stacks give each process its own
/// connection to the same server and database.
pub fn login_url(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{}@{host_and_path}", login(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_url_names_the_login_and_keeps_host_database_and_parameters() {
        assert_eq!(
            login_url(
                "postgres://postgres:secret@127.0.0.1:5432/commerce?sslmode=require",
                "cart"
            ),
            "postgres://commerce_cart_login@127.0.0.1:5432/commerce?sslmode=require"
        );
        assert_eq!(
            login_url("postgresql://db.internal/shop", "relay"),
            "postgresql://commerce_relay_login@db.internal/shop"
        );
    }
}
