//! Read-model generations driven directly (docs/read-model-generations.md): a replay builds the
//! next generation beside the live one and switches; the old one is retired, can be rolled back
//! to and dropped; a worker of another projection version never applies to a generation;
//! one replay per model at a time; the DDL in code builds the tables the migrations built.

mod support;

use std::sync::Arc;

use event_store::RecordedEvent;
use futures::future::BoxFuture;
use projections::runtime::{RuntimeError, Status};
use projections::{PostgresProjection, Projection, ProjectionError};
use support::*;

/// The live generation's number and the statuses of all generations of `projection`.
async fn generations(h: &Harness, projection: &Projection) -> Vec<(u32, Status)> {
    h.runtime
        .generations(projection.name())
        .await
        .expect("generations")
        .into_iter()
        .map(|g| (g.generation, g.status))
        .collect()
}

async fn schema_exists(h: &Harness, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&h.db.pool)
        .await
        .expect("schema lookup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_switches_to_an_equal_new_generation_and_a_rollback_catches_the_old_one_up() {
    let h = Harness::new().await;
    h.append("a", &[Some(1), Some(2), Some(3)]).await;
    for projection in h.both() {
        // Everything in the log so far, live (the other model's turn appended more).
        let logged = h.store.read_category("ledger", 0, 1000).await.unwrap();
        for event in &logged {
            h.runtime.handle(&projection, event).await;
        }
        let before = generations(&h, &projection).await;
        let live = snapshot(&h.runtime, &projection).await;
        let first = h.runtime.replay(&projection, None).await.expect("replay");
        assert_eq!(first.events, logged.len() as u64, "{projection:?}");
        assert_eq!(
            snapshot(&h.runtime, &projection).await,
            live,
            "{projection:?}"
        );
        let after = generations(&h, &projection).await;
        assert_eq!(after[0], (first.generation, Status::Live), "{after:?}");
        assert!(
            after.contains(&(first.replaced, Status::Retired)),
            "{before:?} → {after:?}"
        );
        // The live generation keeps being applied to after the switch.
        let more = h.append("a", &[Some(4)]).await;
        h.runtime.handle(&projection, &more[0]).await;
        let grown = snapshot(&h.runtime, &projection).await;
        assert_ne!(grown, live);

        // Rolling back makes the retired generation live again, caught up with the log.
        let back = h
            .runtime
            .rollback(&projection, None)
            .await
            .expect("rollback");
        assert_eq!(back.generation, first.replaced, "{projection:?}");
        assert_eq!(
            snapshot(&h.runtime, &projection).await,
            grown,
            "{projection:?}"
        );
        let status = generations(&h, &projection).await;
        assert!(
            status.contains(&(first.replaced, Status::Live)),
            "{status:?}"
        );
        assert!(
            status.contains(&(first.generation, Status::Retired)),
            "{status:?}"
        );

        // The live generation cannot be dropped; a retired one can, and is gone.
        let refused = h.runtime.drop_generation(&projection, first.replaced).await;
        assert!(
            matches!(refused, Err(RuntimeError::Replay { .. })),
            "{refused:?}"
        );
        h.runtime
            .drop_generation(&projection, first.generation)
            .await
            .expect("drop the retired one");
        let status = generations(&h, &projection).await;
        assert!(
            !status.iter().any(|(g, _)| *g == first.generation),
            "{status:?}"
        );
        if let Projection::Postgres(_) = projection {
            assert!(
                !schema_exists(
                    &h,
                    &projections::runtime::pg_schema(projection.name(), first.generation)
                )
                .await
            );
        }
        assert_eq!(
            snapshot(&h.runtime, &projection).await,
            grown,
            "{projection:?}"
        );
        // Nothing of the dropped generation is left in Redis either.
        h.runtime
            .replay(&projection, None)
            .await
            .expect("a replay after a drop");
        assert_eq!(snapshot(&h.runtime, &projection).await, grown);
    }
    assert_eq!(h.pg_total("a").await, Some(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replay_of_a_model_refuses_while_the_first_holds_its_lock() {
    let h = Harness::new().await;
    h.append("a", &[Some(1)]).await;
    for projection in h.both() {
        // What a running replay holds (runtime/replay.rs), taken on a connection of the test's.
        let mut first = h.db.pool.acquire().await.unwrap();
        sqlx::query("SELECT pg_advisory_lock(hashtextextended('projection-replay/' || $1, 0))")
            .bind(projection.name())
            .execute(&mut *first)
            .await
            .unwrap();
        let before = generations(&h, &projection).await;
        let second = h.runtime.replay(&projection, None).await;
        assert!(
            matches!(second, Err(RuntimeError::ReplayRunning { .. })),
            "{second:?}"
        );
        let verify = h.runtime.verify(&projection, None).await;
        assert!(
            matches!(verify, Err(RuntimeError::ReplayRunning { .. })),
            "{verify:?}"
        );
        assert_eq!(
            generations(&h, &projection).await,
            before,
            "nothing started"
        );
        sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut *first)
            .await
            .unwrap();
        h.runtime
            .replay(&projection, None)
            .await
            .expect("runs once the first is gone");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_no_difference_then_the_changed_field_and_the_deleted_key() {
    let h = Harness::new().await;
    let a = h.append("a", &[Some(1), Some(2)]).await;
    for projection in h.both() {
        for event in &a {
            h.runtime.handle(&projection, event).await;
        }
        let clean = h.runtime.verify(&projection, None).await.expect("verify");
        assert!(clean.differences.is_empty(), "{:?}", clean.differences);
    }
    // An event still on its way to the live models (appended, not yet delivered) is not a
    // difference: the rebuild leaves out what the live side has yet to receive.
    h.append("b", &[Some(7)]).await;
    for projection in h.both() {
        let lagging = h.runtime.verify(&projection, None).await.expect("verify");
        assert!(lagging.differences.is_empty(), "{:?}", lagging.differences);
    }
    sqlx::query("UPDATE test_ledger_totals SET total = 99 WHERE stream_id = 'ledger-a'")
        .execute(&h.db.pool)
        .await
        .unwrap();
    let report = h.runtime.verify(&h.table, None).await.expect("verify");
    assert_eq!(report.differences.len(), 1, "{:?}", report.differences);
    let difference = &report.differences[0];
    assert_eq!(
        (
            difference.place.as_str(),
            difference.key.as_str(),
            difference.field.as_str()
        ),
        ("test_ledger_totals", "ledger-a", "total")
    );
    assert_eq!(
        (difference.live.as_str(), difference.rebuilt.as_str()),
        ("99", "3")
    );

    let keys = h.runtime.live_key_space("test_ledger_cache").await.unwrap();
    redis::cmd("DEL")
        .arg(keys.key("log:ledger-a"))
        .query_async::<()>(&mut h.redis.clone())
        .await
        .unwrap();
    let report = h.runtime.verify(&h.cache, None).await.expect("verify");
    assert_eq!(report.differences.len(), 1, "{:?}", report.differences);
    assert_eq!(report.differences[0].place, "log:ledger-a");
    assert_eq!(report.differences[0].live, "null");
    // Verify never switched or kept anything: the scratch generations are dropped.
    for projection in h.both() {
        let status = generations(&h, &projection).await;
        assert!(
            status
                .iter()
                .all(|(_, s)| *s == Status::Live || *s == Status::Retired),
            "{status:?}"
        );
    }
}

/// The ledger table projection as a newer version of its code would be.
struct NextVersion(Arc<dyn PostgresProjection>);

impl PostgresProjection for NextVersion {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn categories(&self) -> &'static [&'static str] {
        self.0.categories()
    }
    fn tables(&self) -> &'static [&'static str] {
        self.0.tables()
    }
    fn ddl(&self) -> &'static str {
        self.0.ddl()
    }
    fn version(&self) -> u32 {
        2
    }
    fn apply<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        self.0.apply(tx, event)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_never_applies_to_a_generation_another_version_built_and_a_newer_one_replays() {
    let h = Harness::new().await;
    let a = h.append("a", &[Some(1), Some(2)]).await;
    let Projection::Postgres(v1) = h.table.clone() else {
        unreachable!()
    };
    let v2 = Projection::Postgres(Arc::new(NextVersion(v1)));
    // A version-2 worker finds only a version-1 generation: it does not apply to it...
    let refused = h.runtime.apply(&v2, &a[0]).await;
    assert!(
        matches!(
            refused,
            Err(RuntimeError::OtherVersion {
                live: 1,
                code: 2,
                ..
            })
        ),
        "{refused:?}"
    );
    // ...it builds its own at start, and from then on the version-1 worker waits instead.
    let report = h.runtime.ensure_built(&v2).await.expect("ensure built");
    assert!(report.is_some());
    assert_eq!(h.pg_total("a").await, Some(3));
    let old = h.runtime.apply(&h.table, &a[1]).await;
    assert!(
        matches!(
            old,
            Err(RuntimeError::OtherVersion {
                live: 2,
                code: 1,
                ..
            })
        ),
        "{old:?}"
    );
    assert!(h.runtime.ensure_built(&h.table).await.unwrap().is_none());
    let more = h.append("a", &[Some(5)]).await;
    h.runtime.apply(&v2, &more[0]).await.expect("applies");
    assert_eq!(h.pg_total("a").await, Some(8));
}

/// Columns, constraints and indexes of `schema.table`, with schema names left out.
async fn layout(h: &Harness, schema: &str, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT format('column %s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), \
                a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '')) \
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         UNION ALL \
         SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid)) \
         FROM pg_constraint WHERE conrelid = to_regclass($1) \
         UNION ALL \
         SELECT format('index %s', replace(pg_get_indexdef(indexrelid), $2 || '.', '')) \
         FROM pg_index WHERE indrelid = to_regclass($1)",
    )
    .bind(format!("\"{schema}\".\"{table}\""))
    .bind(schema)
    .fetch_all(&h.db.pool)
    .await
    .expect("layout");
    rows.sort();
    rows
}

/// A replay creates a PostgreSQL generation's secondary indexes only after its fill
/// (docs/read-model-generations.md); the generation it switches in has every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_generation_goes_live_with_every_index_of_the_migrated_one() {
    let h = Harness::unbuilt().await;
    for projection in projections::read_models::all() {
        let Projection::Postgres(model) = &projection else {
            continue;
        };
        let report = h.runtime.replay(&projection, None).await.expect("replay");
        let retired = projections::runtime::pg_schema(model.name(), report.replaced);
        for table in model.tables() {
            assert_eq!(
                layout(&h, "public", table).await,
                layout(&h, &retired, table).await,
                "{}: the replayed {table} differs from the migrated one",
                model.name()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generation_has_the_migrated_layout() {
    let h = Harness::unbuilt().await;
    for projection in projections::read_models::all() {
        let Projection::Postgres(model) = projection else {
            continue;
        };
        let schema = format!("ddl_{}", model.name());
        let mut tx = h.db.pool.begin().await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(&schema)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::raw_sql(model.ddl()).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        for table in model.tables() {
            let migrated = layout(&h, "public", table).await;
            assert!(!migrated.is_empty(), "{table} is migrated");
            assert_eq!(
                layout(&h, &schema, table).await,
                migrated,
                "{}: ddl/{}.sql and the migrations differ for {table}",
                model.name(),
                model.name()
            );
        }
    }
}
