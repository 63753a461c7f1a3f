//! The `checkouts` read model fed the checkout story ([`projections::testing::checkouts`])
//! straight from a real log — without the runtime, and through it (version markers, repeats,
//! rebuild) — and read back through its readers.

use std::{sync::Arc, time::Duration};

use aggregates::{OrderId, payment::PaymentMethod};
use chrono::Utc;
use event_store::RecordedEvent;
use projections::{
    PostgresProjection, Projection, ProjectionError,
    read_models::checkouts::{self, CheckoutView, Checkouts},
    runtime::{Applied, ProjectionMetrics, ProjectionRuntime, RetryPolicy},
    testing::{
        Log, RedisSpace, all_events, apply_pg,
        checkouts::{CheckoutStory, far_deadline},
        database, id,
        story::eur,
        t, table_rows,
    },
};
use server::Registry;
use settings::ExposeSecret;
use sqlx::PgPool;
use uuid::Uuid;

async fn story(log: &mut Log) -> (CheckoutStory, Vec<RecordedEvent>) {
    let s = projections::testing::checkouts::write(log, id(), id()).await;
    let events = all_events(&log.store).await;
    (s, events)
}

async fn checkout(pool: &PgPool, order_id: OrderId) -> CheckoutView {
    checkouts::get(pool, order_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("checkout {order_id}"))
}

/// The timeline as `(kind, step, detail)`, steps without their product ids.
fn timeline(view: &CheckoutView) -> Vec<(String, Option<String>, Option<String>)> {
    view.timeline
        .iter()
        .map(|entry| {
            let step = entry
                .step
                .as_ref()
                .map(|step| step.split(':').next().unwrap().to_owned());
            (entry.kind.clone(), step, entry.detail.clone())
        })
        .collect()
}

fn entry(
    kind: &str,
    step: Option<&str>,
    detail: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (
        kind.to_owned(),
        step.map(str::to_owned),
        detail.map(str::to_owned),
    )
}

async fn runtime(
    db: &event_store::testing::TestDatabase,
    log: &Log,
    redis: &RedisSpace,
) -> ProjectionRuntime {
    let client = redis::Client::open(db.settings.redis.url.expose_secret()).unwrap();
    let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
    ProjectionRuntime::new(
        db.pool.clone(),
        log.store.clone(),
        manager,
        redis.prefix.clone(),
        RetryPolicy {
            max_attempts: 1,
            retry_delay: Duration::from_millis(1),
        },
        ProjectionMetrics::register(&mut Registry::default()),
    )
}

async fn tables(pool: &PgPool) -> Vec<Vec<serde_json::Value>> {
    let mut all = Vec::new();
    for table in Checkouts.tables() {
        all.push(table_rows(pool, table).await);
    }
    all
}

#[tokio::test]
async fn the_checkouts_model_shows_each_checkout_with_its_timeline() {
    let (db, mut log) = database().await;
    let (s, events) = story(&mut log).await;
    apply_pg(&db.pool, &Checkouts, &events).await;
    let pool = &db.pool;

    let paid = checkout(pool, s.paid).await;
    assert_eq!(paid.customer_id, s.alice);
    assert_eq!(paid.payment_id, aggregates::checkout::payment_id(s.paid));
    assert_eq!(
        (paid.method, paid.total),
        (PaymentMethod::Balance, eur(4_999))
    );
    assert_eq!((paid.status, paid.reason.as_deref()), ("completed", None));
    assert_eq!(
        (paid.started_at, paid.deadline_at, paid.updated_at),
        (t(0), t(15), t(8))
    );
    let succeeded = |step| entry("CheckoutStepSucceeded", Some(step), None);
    assert_eq!(
        timeline(&paid),
        [
            entry("CheckoutStarted", None, None),
            succeeded("reserve"),
            succeeded("confirm-order"),
            succeeded("initiate-payment"),
            succeeded("debit-balance"),
            succeeded("capture"),
            succeeded("mark-paid"),
            succeeded("commit"),
            succeeded("clear-cart"),
            entry("CheckoutCompleted", None, None),
        ]
    );
    let versions: Vec<u64> = paid.timeline.iter().map(|e| e.version).collect();
    assert_eq!(versions, (0..10).collect::<Vec<_>>());
    assert_eq!(paid.stream_version, 9);
    assert_eq!(paid.timeline[1].step, Some(format!("reserve:{}", s.shoe)));
    assert_eq!(paid.timeline[9].at, t(8));

    let out = checkout(pool, s.out_of_stock).await;
    assert_eq!(
        (out.status, out.reason.as_deref()),
        ("cancelled", Some("out of stock"))
    );
    assert_eq!(
        timeline(&out),
        [
            entry("CheckoutStarted", None, None),
            succeeded("reserve"),
            entry(
                "CheckoutStepRefused",
                Some("reserve"),
                Some("only 0 of 1 available")
            ),
            entry("CheckoutCompensationStarted", None, Some("out of stock")),
            succeeded("release"),
            succeeded("cancel-order"),
            entry("CheckoutCancelled", None, Some("out of stock")),
        ]
    );
    assert_eq!(out.timeline[2].step, Some(format!("reserve:{}", s.jacket)));

    let refunded = checkout(pool, s.refunded).await;
    assert_eq!(refunded.customer_id, s.bob);
    assert_eq!(refunded.method, PaymentMethod::External);
    assert_eq!(
        (refunded.status, refunded.reason.as_deref()),
        ("refunded", Some("changed my mind"))
    );
    let noticed = |fact| entry("CheckoutNoticed", None, Some(fact));
    assert_eq!(
        timeline(&refunded)[4..],
        [
            succeeded("charge"),
            noticed("payment_captured"),
            succeeded("mark-paid"),
            succeeded("commit"),
            succeeded("clear-cart"),
            entry("CheckoutCompleted", None, None),
            noticed("order_refunded: changed my mind"),
            entry("CheckoutRefundStarted", None, Some("changed my mind")),
            succeeded("return"),
            succeeded("provider-refund"),
            noticed("payment_refunded"),
            entry("CheckoutRefunded", None, None),
        ]
    );

    let waiting = checkout(pool, s.waiting).await;
    assert_eq!((waiting.status, waiting.deadline_at), ("running", t(40)));
    assert_eq!(timeline(&waiting).last(), Some(&succeeded("charge")));
    let compensating = checkout(pool, s.compensating).await;
    assert_eq!(
        (compensating.status, compensating.reason.as_deref()),
        ("compensating", Some("deadline passed"))
    );
    assert_eq!(
        timeline(&compensating)[4..],
        [
            noticed("deadline_passed"),
            entry("CheckoutCompensationStarted", None, Some("deadline passed")),
        ]
    );
    let refunding = checkout(pool, s.refunding).await;
    assert_eq!(
        (refunding.status, refunding.reason.as_deref()),
        ("refunding", Some("damaged box"))
    );
    assert_eq!(timeline(&refunding).last(), Some(&succeeded("return")));
    let fresh = checkout(pool, s.fresh).await;
    assert_eq!(
        (fresh.status, fresh.deadline_at),
        ("running", far_deadline())
    );

    assert_eq!(
        checkouts::get(pool, OrderId(Uuid::new_v4())).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn stuck_lists_exactly_the_overdue_checkouts_the_process_manager_still_drives() {
    let (db, mut log) = database().await;
    let (s, events) = story(&mut log).await;
    apply_pg(&db.pool, &Checkouts, &events).await;
    let pool = &db.pool;
    let ids = |page: &checkouts::CheckoutPage| -> Vec<OrderId> {
        page.checkouts.iter().map(|c| c.order_id).collect()
    };

    let now = Utc::now() - chrono::Duration::seconds(60);
    let all = checkouts::stuck(pool, now, None, 10).await.unwrap();
    assert_eq!(ids(&all), [s.waiting, s.compensating, s.refunding]);
    assert_eq!(all.next, None);
    assert_eq!(all.checkouts[1], checkout(pool, s.compensating).await);
    // Only deadlines before the cut-off: the refunding one (t(60)) is not yet overdue at t(55).
    let early = checkouts::stuck(pool, t(55), None, 10).await.unwrap();
    assert_eq!(ids(&early), [s.waiting, s.compensating]);
    assert!(
        checkouts::stuck(pool, t(40), None, 10)
            .await
            .unwrap()
            .checkouts
            .is_empty()
    );

    // Oldest first, one per page.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = checkouts::stuck(pool, now, after, 1).await.unwrap();
        seen.extend(ids(&page));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all));
}

#[tokio::test]
async fn the_checkouts_model_applied_again_through_the_runtime_changes_nothing() {
    let (db, mut log) = database().await;
    let (s, events) = story(&mut log).await;
    let redis = RedisSpace::new().await;
    let runtime = runtime(&db, &log, &redis).await;
    let projection = Projection::Postgres(Arc::new(Checkouts));
    for event in &events {
        let applied = runtime.apply(&projection, event).await.expect("applies");
        assert_eq!(
            applied,
            Applied::Applied { filled: 0 },
            "{}",
            event.event_type
        );
    }
    let live = tables(&db.pool).await;
    let view = checkout(&db.pool, s.refunded).await;
    for event in events.iter().chain(&events) {
        let again = runtime
            .apply(&projection, event)
            .await
            .expect("applies again");
        assert_eq!(
            again,
            Applied::Duplicate,
            "{} v{}",
            event.stream_id,
            event.version
        );
    }
    assert_eq!(tables(&db.pool).await, live);
    assert_eq!(checkout(&db.pool, s.refunded).await, view);

    // Without the runtime's markers a repeated start is refused, never applied twice.
    let mut tx = db.pool.begin().await.unwrap();
    let err = Checkouts.apply(&mut tx, &events[0]).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Inconsistent(_)), "{err}");
}

#[tokio::test]
async fn the_checkouts_model_rebuilt_from_the_log_equals_the_live_one() {
    let (db, mut log) = database().await;
    let (s, events) = story(&mut log).await;
    let redis = RedisSpace::new().await;
    let runtime = runtime(&db, &log, &redis).await;
    let projection = Projection::Postgres(Arc::new(Checkouts));
    for event in &events {
        runtime.apply(&projection, event).await.expect("applies");
    }
    let live = tables(&db.pool).await;
    assert!(live.iter().all(|rows| !rows.is_empty()));
    let report = runtime.rebuild(&projection).await.expect("rebuilds");
    assert_eq!((report.events, report.parked), (events.len() as u64, 0));
    assert_eq!(tables(&db.pool).await, live);

    // And applied without the runtime, to a database of its own.
    let (other, _) = database().await;
    apply_pg(&other.pool, &Checkouts, &events).await;
    assert_eq!(tables(&other.pool).await, live);
    let page = |pool| checkouts::stuck(pool, t(1_000), None, 10);
    assert_eq!(
        page(&db.pool).await.unwrap(),
        page(&other.pool).await.unwrap()
    );
    assert_eq!(
        checkout(&other.pool, s.paid).await,
        checkout(&db.pool, s.paid).await
    );
    redis.cleanup();
}

#[tokio::test]
async fn the_checkouts_model_refuses_a_checkout_it_never_saw_start_and_skips_other_events() {
    let (db, mut log) = database().await;
    let (_, events) = story(&mut log).await;
    let mut tx = db.pool.begin().await.unwrap();
    // Version 1 of a checkout whose start was never applied.
    let later = events
        .iter()
        .find(|event| event.version == 1)
        .expect("a second event");
    let err = Checkouts.apply(&mut tx, later).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Inconsistent(_)), "{err}");
    let mut foreign = later.clone();
    foreign.event_type = "CheckoutArchived".to_owned();
    Checkouts
        .apply(&mut tx, &foreign)
        .await
        .expect("unknown types are ignored");
    let mut garbled = later.clone();
    garbled.data = serde_json::json!({"order_id": 12});
    let err = Checkouts.apply(&mut tx, &garbled).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Decode { .. }), "{err}");
}
