//! Each service only its own data, enforced by PostgreSQL (`docs/database-roles.md`): every
//! service login (made by scripts/setup through `commerce-migrate`) connects to a freshly
//! migrated database and is refused what is not its own — by a permission error, with nothing
//! written — while what it needs works.

use std::collections::BTreeMap;

use event_store::{
    EventStore, ExpectedVersion, NewEvent, StreamId, connect_options,
    roles::{SERVICE_ROLES, login, login_url},
    testing::TestDatabase,
};
use serde_json::json;
use settings::{ExposeSecret, Settings};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

/// PostgreSQL's SQLSTATE for a refused privilege (`insufficient_privilege`): both a missing grant
/// and a row-level security `WITH CHECK` violation.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// A database with one event in each category, as the owner wrote them.
async fn seeded() -> TestDatabase {
    let db = TestDatabase::create(2).await;
    for category in [
        "customer", "product", "cart", "order", "payment", "checkout",
    ] {
        append(&db.store(), &format!("{category}-seed"))
            .await
            .expect("the owner appends anywhere");
    }
    db
}

async fn append(store: &EventStore, stream: &str) -> Result<(), event_store::StoreError> {
    let event = NewEvent::new("Seeded", json!({ "at": 1 })).with_id(Uuid::new_v4());
    store
        .append(
            &StreamId::parse(stream).expect("a valid stream id"),
            ExpectedVersion::Any,
            &[event],
        )
        .await
        .map(drop)
}

/// Settings of `db` as `role`'s login.
fn settings_as(db: &TestDatabase, role: &str) -> Settings {
    let mut settings = db.settings.clone();
    settings.database.url = login_url(settings.database.url.expose_secret(), role).into();
    settings
}

/// A connection to `db` as `role`'s login; panics with what to do when the login is missing.
async fn connect_as(db: &TestDatabase, role: &str) -> PgConnection {
    let options = connect_options(&settings_as(db, role).database).expect("the url parses");
    PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "connecting as {}: {error} — the service logins are made by scripts/setup \
             (commerce-migrate with APP_DATABASE__LOGINS__*)",
                login(role)
            )
        })
}

/// An event store over `db` as `role`'s login.
async fn store_as(db: &TestDatabase, role: &str) -> EventStore {
    let settings = settings_as(db, role);
    let pool = PgPool::connect_with(connect_options(&settings.database).expect("the url parses"))
        .await
        .expect("the login connects");
    EventStore::new(pool, settings.event_store.clone())
}

/// The SQLSTATE `sql` fails with as `role`, or `None` when it succeeds.
async fn outcome(db: &TestDatabase, role: &str, sql: &str) -> Option<String> {
    let mut conn = connect_as(db, role).await;
    match sqlx::raw_sql(sql).execute(&mut conn).await {
        Ok(_) => None,
        Err(error) => Some(
            error
                .as_database_error()
                .and_then(|e| e.code().map(std::borrow::Cow::into_owned))
                .unwrap_or_else(|| panic!("{role}: {sql}: not a database error: {error}")),
        ),
    }
}

async fn denied(db: &TestDatabase, role: &str, sql: &str) {
    assert_eq!(
        outcome(db, role, sql).await.as_deref(),
        Some(INSUFFICIENT_PRIVILEGE),
        "{role} must be refused: {sql}"
    );
}

async fn allowed(db: &TestDatabase, role: &str, sql: &str) {
    assert_eq!(
        outcome(db, role, sql).await,
        None,
        "{role} must be allowed: {sql}"
    );
}

/// Event counts per category, as the owner sees them.
async fn counts(db: &TestDatabase) -> BTreeMap<String, i64> {
    sqlx::query_as("SELECT category, count(*) FROM events GROUP BY category")
        .fetch_all(&db.pool)
        .await
        .expect("the owner reads the log")
        .into_iter()
        .collect()
}

/// The categories whose events `role` sees.
async fn visible(db: &TestDatabase, role: &str) -> Vec<String> {
    let mut conn = connect_as(db, role).await;
    sqlx::query_scalar("SELECT DISTINCT category FROM events ORDER BY category")
        .fetch_all(&mut conn)
        .await
        .expect("the role may read the log")
}

#[tokio::test]
async fn each_login_runs_as_its_group_and_is_neither_superuser_nor_owner() {
    let db = TestDatabase::create(1).await;
    for role in SERVICE_ROLES {
        let mut conn = connect_as(&db, role).await;
        let (current, session, superuser, owns_events): (String, String, bool, bool) =
            sqlx::query_as(
                "SELECT current_user::text, session_user::text, \
                        (SELECT rolsuper FROM pg_roles WHERE rolname = session_user), \
                        pg_has_role((SELECT tableowner FROM pg_tables \
                                     WHERE tablename = 'events'), 'MEMBER')",
            )
            .fetch_one(&mut conn)
            .await
            .expect("the login reads its own attributes");
        assert_eq!(
            current,
            format!("commerce_{role}"),
            "{role}'s sessions run as its group"
        );
        assert_eq!(session, login(role));
        assert!(!superuser, "{role} is no superuser");
        assert!(!owns_events, "{role} does not own the log");
    }
}

#[tokio::test]
async fn the_cart_role_appending_to_an_order_stream_is_refused_and_nothing_is_written() {
    let db = seeded().await;
    let before = counts(&db).await;
    let cart = store_as(&db, "cart").await;
    let error = append(&cart, "order-by-cart")
        .await
        .expect_err("the cart service may not append to an order stream");
    assert_eq!(
        error_code(&error).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE),
        "a permission error: {error}"
    );
    // It failed before: every database error counted as transient, so a reader of the log
    // (`subscription.rs`) retried a refusal as if the database were down.
    assert!(
        !error.is_transient(),
        "a refusal is not an outage: retrying cannot help"
    );
    assert_eq!(counts(&db).await, before, "nothing written");
    append(&cart, "cart-own")
        .await
        .expect("its own category is fine");
    assert_eq!(counts(&db).await["cart"], before["cart"] + 1);
}

#[tokio::test]
async fn no_role_may_update_delete_or_truncate_an_event() {
    let db = seeded().await;
    let before = counts(&db).await;
    for role in SERVICE_ROLES {
        denied(&db, role, "UPDATE events SET event_type = 'Forged'").await;
        denied(&db, role, "DELETE FROM events").await;
        denied(&db, role, "TRUNCATE events").await;
    }
    assert_eq!(
        counts(&db).await,
        before,
        "every event is still there, unchanged"
    );
    let forged: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'Forged'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(forged, 0);
}

#[tokio::test]
async fn the_query_role_may_not_read_the_log_but_reads_the_read_models() {
    let db = seeded().await;
    denied(&db, "query", "SELECT count(*) FROM events").await;
    allowed(&db, "query", "SELECT count(*) FROM rm_orders").await;
    allowed(&db, "query", "SELECT count(*) FROM projection_versions").await;
    denied(&db, "query", "DELETE FROM rm_orders").await;
    denied(&db, "query", "SELECT count(*) FROM checkout_deadlines").await;
    // Its audit service reads the log as commerce_audit, read-only.
    allowed(
        &db,
        "query",
        "BEGIN READ ONLY; SET LOCAL ROLE commerce_audit; SELECT count(*) FROM events; COMMIT",
    )
    .await;
}

#[tokio::test]
async fn the_projection_role_may_not_write_the_log_but_writes_its_read_models() {
    let db = seeded().await;
    let before = counts(&db).await;
    let error = append(&store_as(&db, "projections").await, "order-by-projections")
        .await
        .expect_err("the projections may not append");
    assert_eq!(
        error_code(&error).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE),
        "{error}"
    );
    assert_eq!(counts(&db).await, before, "nothing written");
    allowed(&db, "projections", "DELETE FROM rm_orders").await;
    allowed(&db, "projections", "CREATE SCHEMA rm_probe_g1").await;
    denied(&db, "projections", "DELETE FROM relay_checkpoints").await;
    denied(&db, "projections", "DELETE FROM checkout_deadlines").await;
}

#[tokio::test]
async fn each_service_sees_the_categories_it_needs_and_no_other() {
    let db = seeded().await;
    let all = [
        "cart", "checkout", "customer", "order", "payment", "product",
    ];
    for (role, expected) in [
        ("customer", &["customer"][..]),
        ("product", &["product"]),
        ("cart", &["cart"]),
        ("order", &["cart", "order"]),
        ("payment", &["order", "payment"]),
        ("checkout", &["checkout"]),
        ("relay", &all),
        ("projections", &all),
        ("audit", &all),
    ] {
        assert_eq!(
            visible(&db, role).await,
            expected,
            "what {role} reads of the log"
        );
    }
    // Reading is not appending: the order service reads carts but may not write them.
    let error = append(&store_as(&db, "order").await, "cart-by-order")
        .await
        .expect_err("the order service may not append to a cart stream");
    assert_eq!(
        error_code(&error).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE),
        "{error}"
    );
}

#[tokio::test]
async fn the_relay_and_the_checkout_touch_only_their_own_tables() {
    let db = seeded().await;
    denied(
        &db,
        "relay",
        "INSERT INTO events (stream_id, category, stream_version, event_id, event_type, \
         schema_version, data, metadata) \
         VALUES ('order-x', 'order', 0, gen_random_uuid(), 'X', 1, '{}', '{}')",
    )
    .await;
    allowed(&db, "relay", "SELECT count(*) FROM relay_checkpoints").await;
    denied(&db, "relay", "SELECT count(*) FROM rm_orders").await;
    allowed(&db, "checkout", "DELETE FROM checkout_deadlines").await;
    denied(&db, "checkout", "SELECT count(*) FROM rm_checkouts").await;
    denied(&db, "checkout", "SELECT count(*) FROM relay_checkpoints").await;
    for role in ["customer", "product", "cart", "order", "payment"] {
        denied(&db, role, "SELECT count(*) FROM rm_customers").await;
        denied(&db, role, "SELECT count(*) FROM checkout_deadlines").await;
    }
}

/// The SQLSTATE behind a store error, if the database refused the statement.
fn error_code(error: &event_store::StoreError) -> Option<String> {
    match error {
        event_store::StoreError::Database(sqlx::Error::Database(db)) => {
            db.code().map(std::borrow::Cow::into_owned)
        }
        _ => None,
    }
}
