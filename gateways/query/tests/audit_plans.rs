//! Each audit statement's plan, on a seeded log of a few thousand events after `ANALYZE`: an
//! index scan of the index the migration made for it, never a sequential scan of `events`.
//! The pool plans generically (`plan_cache_mode = force_generic_plan`, as every process does),
//! so these are the plans production runs.

use event_store::{Direction, testing::TestDatabase};
use query::audit::{chain, counts, history, range, state, subject};
use serde_json::Value;
use sqlx::{Postgres, postgres::PgArguments, query::Query};

const EVENTS: i64 = 6000;

/// Seeds `EVENTS` events: 1200 streams over five categories, 24 types, 300 actors, 1500
/// correlation ids, a customer id in half the payloads, spread over ten days.
async fn seeded() -> TestDatabase {
    let db = TestDatabase::create(2).await;
    sqlx::query(
        "INSERT INTO events (stream_id, category, stream_version, event_id, event_type, \
                             schema_version, data, metadata, recorded_at) \
         SELECT c.name || '-' || (g % 1200), c.name, g / 1200, gen_random_uuid(), \
                'Type' || (g % 24), 1, \
                CASE WHEN g % 2 = 0 THEN jsonb_build_object('customer_id', 'c' || (g % 400)) \
                     ELSE '{}'::jsonb END, \
                jsonb_build_object('correlation_id', 'k' || (g % 1500), 'actor', 'a' || (g % 300), \
                                   'causation_id', gen_random_uuid(), 'command_id', gen_random_uuid()), \
                timestamptz '2026-12-01T00:00:00Z' + (g * interval '144 seconds') \
         FROM generate_series(0, $1 - 1) g \
         CROSS JOIN LATERAL (SELECT (ARRAY['customer','cart','order','payment','product'])[1 + g % 5] AS name) c",
    )
    .bind(EVENTS)
    .execute(&db.pool)
    .await
    .expect("seed");
    sqlx::query("ANALYZE events")
        .execute(&db.pool)
        .await
        .unwrap();
    db
}

/// Every node of `plan` as (node type, relation, index).
fn nodes(plan: &Value, out: &mut Vec<(String, String, String)>) {
    let text = |key: &str| plan[key].as_str().unwrap_or_default().to_owned();
    out.push((text("Node Type"), text("Relation Name"), text("Index Name")));
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

async fn plan(
    db: &TestDatabase,
    query: Query<'_, Postgres, PgArguments>,
) -> Vec<(String, String, String)> {
    let mut conn = db.pool.acquire().await.unwrap();
    let json: Value = sqlx::Row::get(&query.fetch_one(&mut *conn).await.unwrap(), 0);
    let mut out = Vec::new();
    nodes(&json[0]["Plan"], &mut out);
    out
}

/// Asserts `plan` reads `events` through `indexes` (each of them) and never sequentially.
fn assert_indexed(what: &str, plan: &[(String, String, String)], indexes: &[&str]) {
    assert!(
        !plan.iter().any(|(node, _, _)| node == "Seq Scan"),
        "{what}: sequential scan in {plan:?}"
    );
    for index in indexes {
        assert!(
            plan.iter()
                .any(|(node, _, name)| name == index && node.contains("Index")),
            "{what}: {index} not scanned in {plan:?}"
        );
    }
}

fn explain(sql: &str) -> String {
    format!("EXPLAIN (FORMAT JSON) {sql}")
}

#[tokio::test]
async fn every_audit_query_is_an_index_scan_of_its_index() {
    let db = seeded().await;
    let time = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let (from, to) = (time("2026-12-02T00:00:00Z"), time("2026-12-03T00:00:00Z"));

    for direction in [Direction::Forward, Direction::Backward] {
        let sql = explain(&history::sql(direction));
        let q = sqlx::query(&sql).bind("order-7").bind(0_i64).bind(101_i64);
        assert_indexed(
            &format!("history {direction:?}"),
            &plan(&db, q).await,
            &["events_stream_version_key"],
        );
    }

    let sql = explain(&chain::sql());
    let q = sqlx::query(&sql).bind("k42").bind(2001_i64);
    assert_indexed("chain", &plan(&db, q).await, &["events_correlation_idx"]);

    for (what, filter, value, index) in [
        (
            "actor",
            range::Filter::Actor("a7"),
            "a7",
            "events_actor_time_idx",
        ),
        (
            "type",
            range::Filter::EventType("Type3"),
            "Type3",
            "events_type_time_idx",
        ),
    ] {
        let sql = explain(&range::sql(filter));
        let q = sqlx::query(&sql)
            .bind(value)
            .bind(from)
            .bind(0_i64)
            .bind(to)
            .bind(101_i64);
        assert_indexed(what, &plan(&db, q).await, &[index]);
    }

    for group_by in [counts::GroupBy::Type, counts::GroupBy::Category] {
        let sql = explain(counts::sql(group_by));
        let q = sqlx::query(&sql).bind("hour").bind(from).bind(to);
        assert_indexed(
            &format!("counts {group_by:?}"),
            &plan(&db, q).await,
            &["events_time_idx"],
        );
    }

    let sql = explain(&state::sql());
    let q = sqlx::query(&sql)
        .bind("order-7")
        .bind(i64::MAX)
        .bind(Some(to));
    assert_indexed("state", &plan(&db, q).await, &["events_stream_version_key"]);

    let sql = explain(&subject::sql());
    let streams = vec!["customer-c7".to_owned(), "cart-c7".to_owned()];
    let q = sqlx::query(&sql)
        .bind(streams)
        .bind("c7")
        .bind(0_i64)
        .bind(101_i64);
    assert_indexed(
        "subject",
        &plan(&db, q).await,
        &[
            "events_stream_version_key",
            "events_customer_idx",
            "events_actor_time_idx",
        ],
    );
}
