//! Batches (docs/projection-batches.md): many events of many streams in one atomic write, with
//! the per-event invariant of `runtime/apply.rs` kept inside the batch, a poison event isolated
//! and parked alone, stream locks that never deadlock, and the model's lease respected.

mod support;

use std::sync::atomic::Ordering;

use projections::runtime::{Applied, Handled};
use support::{Harness, MAX_ATTEMPTS};

fn applied(filled: usize) -> Handled {
    Handled::Applied(Applied::Applied { filled })
}

const DUPLICATE: Handled = Handled::Applied(Applied::Duplicate);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_repeats_a_gap_and_a_poison_event_applies_everything_else_once() {
    let h = Harness::new().await;
    let a = h
        .append("a", &[Some(1), Some(2), Some(3), Some(4), Some(5)])
        .await;
    let b = h.append("b", &[Some(10), None, Some(30)]).await;
    let c = h.append("c", &[Some(7), Some(8)]).await;
    for (projection, tries) in [
        (h.table.clone(), &h.poison.postgres_tries),
        (h.cache.clone(), &h.poison.redis_tries),
    ] {
        // a2 never arrives (a gap before a3); a1 and c0 come twice; b1 is poison.
        let batch = [
            &a[0], &a[1], &a[1], &b[0], &a[3], &b[1], &c[0], &b[2], &c[1], &a[4], &c[0],
        ];
        let handled = h.runtime.handle_batch(&projection, &batch).await;
        assert_eq!(
            handled,
            vec![
                applied(0),
                applied(0),
                DUPLICATE,
                applied(0),
                applied(1),
                Handled::Parked,
                applied(0),
                Handled::Parked,
                applied(0),
                applied(0),
                DUPLICATE,
            ],
            "{projection:?}"
        );
        // Tried once inside the failing batch, then MAX_ATTEMPTS times alone.
        assert_eq!(tries.load(Ordering::SeqCst), MAX_ATTEMPTS + 1);
        assert_eq!(
            h.parked(&projection).await,
            vec![
                ("ledger-b".to_owned(), Some(1), MAX_ATTEMPTS as i32),
                ("ledger-b".to_owned(), Some(2), 0),
            ],
            "only the poison event's stream stops"
        );
    }
    assert_eq!(h.pg_versions("a").await, vec![0, 1, 2, 3, 4]);
    assert_eq!(h.pg_versions("b").await, vec![0]);
    assert_eq!(h.pg_versions("c").await, vec![0, 1]);
    assert_eq!(h.pg_total("a").await, Some(15), "each version applied once");
    assert_eq!(h.pg_total("b").await, Some(10));
    assert_eq!(h.pg_total("c").await, Some(15));
    assert_eq!(h.redis_versions("a").await, vec![0, 1, 2, 3, 4]);
    assert_eq!(h.redis_versions("b").await, vec![0]);
    assert_eq!(h.redis_versions("c").await, vec![0, 1]);

    // Fixed and re-driven, the stopped stream catches up in order.
    h.poison.fixed.store(true, Ordering::SeqCst);
    for projection in h.both() {
        h.runtime.redrive(&projection, "ledger-b").await.unwrap();
    }
    assert_eq!(h.pg_versions("b").await, vec![0, 1, 2]);
    assert_eq!(h.redis_versions("b").await, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_writes_nothing_of_any_stream() {
    let h = Harness::new().await;
    let a = h.append("a", &[Some(1), Some(2)]).await;
    let b = h.append("b", &[None]).await;
    for projection in h.both() {
        let error = h
            .runtime
            .apply_batch(&projection, &[&a[0], &a[1], &b[0]])
            .await
            .expect_err("poison in the batch");
        assert!(!error.is_transient(), "{error:?}");
    }
    assert!(h.pg_versions("a").await.is_empty());
    assert!(h.redis_versions("a").await.is_empty());
    let markers: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_versions")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(markers, 0, "no marker raised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_over_the_same_streams_in_opposite_orders_never_deadlock() {
    let h = Harness::new().await;
    let amounts: Vec<Option<i64>> = (1..=40).map(Some).collect();
    let streams = [
        h.append("x", &amounts).await,
        h.append("y", &amounts).await,
        h.append("z", &amounts).await,
    ];
    let forward: Vec<Vec<_>> = (0..40)
        .step_by(4)
        .map(|from| {
            streams
                .iter()
                .flat_map(|events| events[from..from + 4].iter().cloned())
                .collect()
        })
        .collect();
    let backward: Vec<Vec<_>> = forward
        .iter()
        .map(|batch| batch.iter().rev().cloned().collect())
        .collect();
    let mut tasks = Vec::new();
    for batches in [forward, backward] {
        let runtime = h.runtime.clone();
        let table = h.table.clone();
        tasks.push(tokio::spawn(async move {
            for batch in &batches {
                let refs: Vec<_> = batch.iter().collect();
                // No retry here: a deadlock (40P01) would surface as an error.
                runtime.apply_batch(&table, &refs).await.expect("applied");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for stream in ["x", "y", "z"] {
        assert_eq!(h.pg_versions(stream).await, (0..40).collect::<Vec<i64>>());
        assert_eq!(h.pg_total(stream).await, Some(820));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_waits_while_a_rebuild_holds_the_models_lease_and_parks_nothing() {
    let h = Harness::new().await;
    let events = h.append("held", &[Some(3), Some(4)]).await;
    let batch = [&events[0], &events[1]];
    for projection in h.both() {
        // What a rebuild on another replica holds (runtime/lease.rs): the model's lease, taken
        // exclusively on a connection of its own.
        let mut rebuild = h.db.pool.acquire().await.unwrap();
        sqlx::query("SELECT pg_advisory_lock(hashtextextended('projection-lease/' || $1, 0))")
            .bind(projection.name())
            .execute(&mut *rebuild)
            .await
            .unwrap();
        let handled = h.runtime.handle_batch(&projection, &batch).await;
        assert_eq!(
            handled,
            vec![Handled::RetryLater; 2],
            "{projection:?} waits"
        );
        assert!(h.parked(&projection).await.is_empty());

        sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut *rebuild)
            .await
            .unwrap();
        let handled = h.runtime.handle_batch(&projection, &batch).await;
        assert_eq!(handled, vec![applied(0), applied(0)], "{projection:?}");
    }
    assert_eq!(h.pg_versions("held").await, vec![0, 1]);
    assert_eq!(h.redis_versions("held").await, vec![0, 1]);
}
