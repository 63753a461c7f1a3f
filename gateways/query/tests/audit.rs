//! The audit queries (`query::audit`) against a known scenario in a fresh log: each query's
//! answer, both paging directions and their cursors, malformed arguments, and the read-only
//! role that PostgreSQL enforces.

mod audit_support;

use audit_support::{at, scenario};
use event_store::{Direction, RecordedEvent, StreamId};
use query::audit::{
    self, AuditError, TimeRange, chain,
    chain::Link,
    counts::{self, Bucket, GroupBy},
    history::{self, HistoryRequest},
    range::{self, Filter},
    state::{self, At},
    subject,
};
use uuid::Uuid;

fn ids(events: &[RecordedEvent]) -> Vec<Uuid> {
    events.iter().map(|event| event.event_id).collect()
}

fn range(from: i64, to: i64) -> TimeRange {
    TimeRange {
        from: at(from),
        to: at(to),
    }
}

fn request(
    direction: Direction,
    from: Option<u64>,
    cursor: &str,
    limit: u32,
) -> HistoryRequest<'_> {
    HistoryRequest {
        direction,
        from_version: from,
        cursor,
        limit,
    }
}

#[tokio::test]
async fn a_stream_pages_forward_and_backward_with_cursors() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let stream = StreamId::parse(format!("customer-{}", s.customer)).unwrap();
    let expected: Vec<Uuid> = s.customer_events.iter().map(|row| row.event_id).collect();

    let first = history::stream_history(&mut tx, &stream, request(Direction::Forward, None, "", 2))
        .await
        .unwrap();
    assert_eq!(first.current_version, 2);
    assert_eq!(ids(&first.events), expected[..2]);
    let cursor = first.next_cursor.expect("a second page");
    let second = history::stream_history(
        &mut tx,
        &stream,
        request(Direction::Forward, None, &cursor, 2),
    )
    .await
    .unwrap();
    assert_eq!(ids(&second.events), expected[2..]);
    assert_eq!(second.next_cursor, None);

    let back = history::stream_history(&mut tx, &stream, request(Direction::Backward, None, "", 2))
        .await
        .unwrap();
    assert_eq!(ids(&back.events), [expected[2], expected[1]]);
    let cursor = back.next_cursor.expect("an older page");
    let older = history::stream_history(
        &mut tx,
        &stream,
        request(Direction::Backward, None, &cursor, 2),
    )
    .await
    .unwrap();
    assert_eq!(ids(&older.events), [expected[0]]);
    assert_eq!(older.next_cursor, None);

    let from_one = history::stream_history(
        &mut tx,
        &stream,
        request(Direction::Backward, Some(1), "", 10),
    )
    .await
    .unwrap();
    assert_eq!(ids(&from_one.events), [expected[1], expected[0]]);

    // A forward cursor is not a backward one; an unknown stream is not found.
    let wrong = history::stream_history(
        &mut tx,
        &stream,
        request(Direction::Backward, None, "f1", 2),
    )
    .await;
    assert!(
        matches!(wrong, Err(AuditError::InvalidArgument(_))),
        "{wrong:?}"
    );
    let unknown = StreamId::parse(format!("customer-{}", Uuid::new_v4())).unwrap();
    let missing =
        history::stream_history(&mut tx, &unknown, request(Direction::Forward, None, "", 2)).await;
    assert!(
        matches!(missing, Err(AuditError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_correlation_id_is_a_tree_by_causation_in_causal_order() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let found = chain::causal_chain(&mut tx, s.correlation).await.unwrap();
    assert!(!found.truncated);
    assert_eq!(
        found.streams,
        [
            format!("order-{}", s.order),
            format!("checkout-{}", s.order),
            format!("product-{}", s.product),
        ]
    );
    let shape: Vec<(Uuid, u32, Option<Uuid>, Link)> = found
        .nodes
        .iter()
        .map(|node| {
            (
                node.event.event_id,
                node.depth,
                node.parent_event_id,
                node.link,
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (s.placed.event_id, 0, None, Link::Root),
            (
                s.noticed.event_id,
                1,
                Some(s.placed.event_id),
                Link::Noticed
            ),
            (
                s.reserved.event_id,
                2,
                Some(s.noticed.event_id),
                Link::Event
            ),
            (
                s.replies[0].event_id,
                3,
                Some(s.reserved.event_id),
                Link::Reply
            ),
            (
                s.replies[1].event_id,
                3,
                Some(s.reserved.event_id),
                Link::Reply
            ),
        ]
    );
    let missing = chain::causal_chain(&mut tx, Uuid::new_v4()).await;
    assert!(
        matches!(missing, Err(AuditError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn an_actors_events_in_a_range_page_oldest_first() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let me = s.customer.to_string();
    let expected = [
        s.cart_event.event_id,
        s.customer_events[1].event_id,
        s.customer_events[2].event_id,
        s.placed.event_id,
    ];
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = range::events_in_range(&mut tx, Filter::Actor(&me), range(0, 60), &cursor, 3)
            .await
            .unwrap();
        seen.extend(ids(&page.events));
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!((seen.as_slice(), pages), (expected.as_slice(), 2));
    // The range is half-open: [t0+2, t0+5) holds the first deposit only.
    let narrow = range::events_in_range(&mut tx, Filter::Actor(&me), range(2, 5), "", 10)
        .await
        .unwrap();
    assert_eq!(ids(&narrow.events), [s.customer_events[1].event_id]);
    // Three of the checkout's events share one time (t0+7): one per page, in position order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page =
            range::events_in_range(&mut tx, Filter::Actor("checkout"), range(6, 8), &cursor, 1)
                .await
                .unwrap();
        seen.extend(ids(&page.events));
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            s.noticed.event_id,
            s.reserved.event_id,
            s.replies[0].event_id,
            s.replies[1].event_id,
        ]
    );
    let admin = range::events_in_range(&mut tx, Filter::Actor("admin:ops"), range(0, 60), "", 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&admin.events),
        [s.customer_events[0].event_id, s.other_registered.event_id]
    );
}

#[tokio::test]
async fn events_of_a_type_in_a_range_page_by_time_then_position() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let first = range::events_in_range(
        &mut tx,
        Filter::EventType("BalanceDeposited"),
        range(0, 60),
        "",
        1,
    )
    .await
    .unwrap();
    assert_eq!(ids(&first.events), [s.customer_events[1].event_id]);
    let cursor = first.next_cursor.expect("a second page");
    let second = range::events_in_range(
        &mut tx,
        Filter::EventType("BalanceDeposited"),
        range(0, 60),
        &cursor,
        1,
    )
    .await
    .unwrap();
    assert_eq!(ids(&second.events), [s.customer_events[2].event_id]);
    assert_eq!(second.next_cursor, None);
    let bad = range::events_in_range(
        &mut tx,
        Filter::EventType("OrderPlaced"),
        range(0, 60),
        "garbage",
        1,
    )
    .await;
    assert!(
        matches!(bad, Err(AuditError::InvalidArgument(_))),
        "{bad:?}"
    );
}

#[tokio::test]
async fn counts_per_type_and_per_category_per_bucket() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let by_type = counts::count_events(&mut tx, range(0, 10), Bucket::Hour, GroupBy::Type)
        .await
        .unwrap();
    let rows: Vec<(String, String, u64)> = by_type
        .iter()
        .map(|c| (c.bucket_start.to_rfc3339(), c.key.clone(), c.count))
        .collect();
    let hour = "2026-12-07T10:00:00+00:00".to_owned();
    assert_eq!(
        rows,
        [
            (hour.clone(), "BalanceDeposited".into(), 2),
            (hour.clone(), "CheckoutCompleted".into(), 1),
            (hour.clone(), "CheckoutNoticed".into(), 1),
            (hour.clone(), "CheckoutStepSucceeded".into(), 1),
            (hour.clone(), "CustomerRegistered".into(), 2),
            (hour.clone(), "ItemAdded".into(), 1),
            (hour.clone(), "OrderPlaced".into(), 1),
            (hour.clone(), "StockReserved".into(), 1),
        ]
    );
    let by_minute = counts::count_events(&mut tx, range(6, 8), Bucket::Minute, GroupBy::Category)
        .await
        .unwrap();
    let rows: Vec<(String, String, u64)> = by_minute
        .iter()
        .map(|c| (c.bucket_start.to_rfc3339(), c.key.clone(), c.count))
        .collect();
    assert_eq!(
        rows,
        [
            ("2026-12-07T10:06:00+00:00".into(), "checkout".into(), 1),
            ("2026-12-07T10:06:00+00:00".into(), "order".into(), 1),
            ("2026-12-07T10:07:00+00:00".into(), "checkout".into(), 2),
            ("2026-12-07T10:07:00+00:00".into(), "product".into(), 1),
        ]
    );
    // 1001 minutes is too many buckets.
    let wide = counts::count_events(&mut tx, range(0, 1001), Bucket::Minute, GroupBy::Type).await;
    assert!(
        matches!(wide, Err(AuditError::InvalidArgument(_))),
        "{wide:?}"
    );
}

#[tokio::test]
async fn an_aggregates_state_at_a_version_or_a_time_is_the_fold_up_to_there() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let stream = StreamId::parse(format!("customer-{}", s.customer)).unwrap();
    let balance = |state: &state::StateAt| {
        state.state["Registered"]["balance"]["amount_minor"]
            .as_i64()
            .unwrap()
    };
    let latest = state::state_at(&mut tx, &stream, At::Latest).await.unwrap();
    assert_eq!((latest.version, balance(&latest)), (2, 150));
    let v1 = state::state_at(&mut tx, &stream, At::Version(1))
        .await
        .unwrap();
    assert_eq!((v1.version, balance(&v1)), (1, 100));
    let v0 = state::state_at(&mut tx, &stream, At::Version(0))
        .await
        .unwrap();
    assert_eq!((v0.version, balance(&v0)), (0, 0));
    let at_four = state::state_at(&mut tx, &stream, At::Time(at(4)))
        .await
        .unwrap();
    assert_eq!((at_four.version, balance(&at_four)), (1, 100));
    assert_eq!(at_four.recorded_at, at(2));
    assert_eq!(
        at_four.state["Registered"]["customer_id"],
        serde_json::json!(s.customer.to_string())
    );

    let before = state::state_at(&mut tx, &stream, At::Time(at(-1))).await;
    assert!(matches!(before, Err(AuditError::NotFound(_))), "{before:?}");
    let foreign = StreamId::parse("ledger-1").unwrap();
    let foreign = state::state_at(&mut tx, &foreign, At::Latest).await;
    assert!(
        matches!(foreign, Err(AuditError::InvalidArgument(_))),
        "{foreign:?}"
    );
}

#[tokio::test]
async fn a_data_subject_gets_their_streams_and_every_event_naming_them() {
    let s = scenario().await;
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let expected = [
        s.customer_events[0].event_id,
        s.cart_event.event_id,
        s.customer_events[1].event_id,
        s.customer_events[2].event_id,
        s.placed.event_id,
    ];
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = subject::subject_events(&mut tx, s.customer, &cursor, 2)
            .await
            .unwrap();
        assert!(page.events.len() <= 2);
        seen.extend(ids(&page.events));
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(seen, expected);
    let other = subject::subject_events(&mut tx, s.other, "", 10)
        .await
        .unwrap();
    assert_eq!(ids(&other.events), [s.other_registered.event_id]);
}

#[tokio::test]
async fn the_audit_path_cannot_write_and_its_role_may_read_only_the_log() {
    let s = scenario().await;
    let insert = "INSERT INTO events (stream_id, category, stream_version, event_id, event_type, \
                  schema_version, data, metadata) VALUES ('cart-x', 'cart', 0, gen_random_uuid(), \
                  'X', 1, '{}', '{}')";
    let code = |error: sqlx::Error| match error {
        sqlx::Error::Database(db) => db.code().map(std::borrow::Cow::into_owned),
        other => panic!("not a database error: {other}"),
    };
    // Through the audit path: a read-only transaction.
    let mut tx = audit::begin(&s.db.pool).await.unwrap();
    let refused = sqlx::query(insert).execute(&mut *tx).await.unwrap_err();
    assert_eq!(
        code(refused).as_deref(),
        Some("25006"),
        "read_only_sql_transaction"
    );
    drop(tx);
    // The role itself, even in a writable transaction: SELECT on the log only.
    let mut tx = s.db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE commerce_audit")
        .execute(&mut *tx)
        .await
        .unwrap();
    let current: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(current, audit::AUDIT_ROLE);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count, 10);
    let refused = sqlx::query(insert).execute(&mut *tx).await.unwrap_err();
    assert_eq!(
        code(refused).as_deref(),
        Some("42501"),
        "insufficient_privilege"
    );
    drop(tx);
    let mut tx = s.db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE commerce_audit")
        .execute(&mut *tx)
        .await
        .unwrap();
    let other_table = sqlx::query("SELECT 1 FROM relay_checkpoints")
        .execute(&mut *tx)
        .await;
    assert_eq!(code(other_table.unwrap_err()).as_deref(), Some("42501"));
}

#[test]
fn malformed_arguments_are_invalid() {
    assert!(matches!(
        audit::page_size(501),
        Err(AuditError::InvalidArgument(_))
    ));
    assert!(matches!(
        TimeRange::parse("2026-12-07", "2026-12-08T00:00:00Z"),
        Err(AuditError::InvalidArgument(_))
    ));
    assert!(matches!(
        Bucket::parse("week"),
        Err(AuditError::InvalidArgument(_))
    ));
}
