//! Test support: a fresh, migrated database per test on the real PostgreSQL server.
//!
//! The server comes from the same settings every process uses (`APP_DATABASE__URL`, default the
//! local server). Each test gets its own database named `test_<uuid>`, so tests run in parallel
//! without seeing each other's events; the database is dropped when the test ends.
//!
//! Beside it, [`wait_until`] and [`poll_until`]: waiting on a condition with a deadline, for this
//! and every other crate's tests; and [`infra`]: servers of a test's own, for tests that kill them.

use settings::{ExposeSecret, SecretString, Settings};
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::{AllPosition, EventStore, MIGRATOR, RecordedEvent, connect_options, pool_options};

pub mod infra;
mod wait;

pub use wait::{POLL_INTERVAL, poll_until, wait_until};

/// A migrated database of its own, and the settings pointing at it (`settings.database.url` names
/// the test database, so a child process given that URL works on it too).
pub struct TestDatabase {
    /// `test_<uuid>`: unique, so parallel tests never share a database.
    pub name: String,
    /// The loaded settings, with the database URL and pool size pointing at this database.
    pub settings: Settings,
    /// A pool of `max_connections` on the migrated database.
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates and migrates a new database with a pool of `max_connections`.
    pub async fn create(max_connections: u32) -> Self {
        Self::create_on(Settings::load().expect("settings load"), max_connections).await
    }

    /// As [`create`](Self::create), on the server `settings.database.url` names (e.g. a
    /// [`PrivatePostgres`](infra::PrivatePostgres), through [`infra::PrivateInfra::settings`]).
    pub async fn create_on(mut settings: Settings, max_connections: u32) -> Self {
        let server = connect_options(&settings.database).expect("database url parses");
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server.clone().database("postgres"))
            .await
            .expect("PostgreSQL is reachable (run scripts/setup)");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        admin.close().await.ok();
        let options = server.database(&name);
        let pool = pool_options(&settings.database)
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .expect("connect to test database");
        MIGRATOR.run(&pool).await.expect("migrations apply");
        settings.database.max_connections = max_connections;
        settings.database.url =
            SecretString::from(database_url(settings.database.url.expose_secret(), &name));
        Self {
            name,
            settings,
            pool,
        }
    }

    /// An event store over this database with its default settings.
    pub fn store(&self) -> EventStore {
        EventStore::new(self.pool.clone(), self.settings.event_store.clone())
    }

    /// Every event of this database's log in `$all` order, read page by page through the gap-safe
    /// reader. The reader's watermark is server-wide (docs/gap-safe-tailing.md): a transaction open
    /// anywhere on the server — another test's — holds it back for a moment, so a page that comes
    /// back empty while `held_back` is retried (up to 30 s) instead of being taken for the end.
    pub async fn all_events(&self) -> Vec<RecordedEvent> {
        let store = self.store();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut from = AllPosition::START;
        let mut events = Vec::new();
        loop {
            let slice = store.read_all(from, 1_000).await.expect("read $all");
            if slice.events.is_empty() {
                if !slice.held_back {
                    return events;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "$all held back for 30 s by transaction {}",
                    slice.watermark
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
            from = slice.next;
            events.extend(slice.events);
        }
    }

    /// Makes the services' login roles the server lacks (`docs/database-roles.md`), with throwaway
    /// passwords: scripts/setup makes them on the shared server (this then changes nothing); a
    /// server of a test's own trusts loopback connections, so any password serves.
    pub async fn ensure_service_logins(&self) {
        let roles: Vec<String> = crate::roles::SERVICE_ROLES
            .iter()
            .map(|role| (*role).to_owned())
            .collect();
        let missing: Vec<String> = sqlx::query_scalar(
            "SELECT role FROM unnest($1::text[]) AS role \
             WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'commerce_' || role || '_login')",
        )
        .bind(&roles)
        .fetch_all(&self.pool)
        .await
        .expect("the server lists its roles");
        if missing.is_empty() {
            return;
        }
        let passwords = missing
            .into_iter()
            .map(|role| (role, uuid::Uuid::new_v4().simple().to_string().into()))
            .collect();
        let mut conn = self.pool.acquire().await.expect("a connection");
        crate::roles::ensure_logins(&mut conn, &passwords)
            .await
            .expect("the services' logins are made");
    }

    /// Total number of events in this database's log.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .expect("count events")
    }
}

impl Drop for TestDatabase {
    /// Drops the database (unless `APP_KEEP_TEST_DATABASES` is set, to debug a failure). Runs on
    /// a thread of its own because `Drop` cannot await inside the test's runtime.
    fn drop(&mut self) {
        if std::env::var_os("APP_KEEP_TEST_DATABASES").is_some() {
            return;
        }
        let name = std::mem::take(&mut self.name);
        let Ok(server) = connect_options(&self.settings.database) else {
            return;
        };
        let label = name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect_with(&server.database("postgres"))
                    .await
                    .ok()?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test database {label}; drop it by hand");
        }
    }
}

/// `url` with its database replaced by `name` (query parameters kept).
fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}
