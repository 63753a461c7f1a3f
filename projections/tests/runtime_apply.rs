//! The runtime's apply, parking, re-drive, skip, rebuild and epoch rules, driven directly (no
//! broker): each test has a fresh database and a Redis key prefix of its own.
#![recursion_limit = "512"]

mod support;

use std::collections::BTreeMap;

use projections::runtime::{Applied, Handled, RuntimeError};
use rocketmq::{ReceivedMessage, property};
use support::{Harness, MAX_ATTEMPTS, snapshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_applying_an_event_again_or_replaying_the_stream_changes_nothing() {
    let h = Harness::new().await;
    let events = h.append("a", &[Some(10), Some(20), Some(30)]).await;
    for projection in h.both() {
        for event in &events {
            let applied = h.runtime.apply(&projection, event).await.expect("apply");
            assert_eq!(applied, Applied::Applied { filled: 0 });
        }
        let live = snapshot(&h.runtime, &projection).await;
        for event in events.iter().chain(events.iter()) {
            let again = h
                .runtime
                .apply(&projection, event)
                .await
                .expect("apply again");
            assert_eq!(
                again,
                Applied::Duplicate,
                "{projection:?} v{}",
                event.version
            );
        }
        assert_eq!(snapshot(&h.runtime, &projection).await, live);
        assert_eq!(h.runtime.metrics().duplicates(projection.name()), 6);
    }
    assert_eq!(h.pg_total("a").await, Some(60));
    assert_eq!(h.pg_versions("a").await, vec![0, 1, 2]);
    assert_eq!(h.redis_versions("a").await, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_a_gap_is_filled_from_the_log_before_the_later_version() {
    let h = Harness::new().await;
    let events = h.append("gap", &[Some(1), Some(2), Some(4)]).await;
    for projection in h.both() {
        h.runtime.apply(&projection, &events[0]).await.expect("v0");
        // v1 never arrives: v2 brings it along from the log.
        let applied = h.runtime.apply(&projection, &events[2]).await.expect("v2");
        assert_eq!(applied, Applied::Applied { filled: 1 });
        let late = h
            .runtime
            .apply(&projection, &events[1])
            .await
            .expect("v1 late");
        assert_eq!(late, Applied::Duplicate);
    }
    assert_eq!(h.pg_versions("gap").await, vec![0, 1, 2]);
    assert_eq!(h.pg_total("gap").await, Some(7));
    assert_eq!(h.redis_versions("gap").await, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_a_poison_event_is_parked_after_max_attempts_and_stops_only_its_stream() {
    let h = Harness::new().await;
    let sick = h.append("sick", &[Some(1), None, Some(3)]).await;
    let well = h.append("well", &[Some(5), Some(6)]).await;
    for projection in h.both() {
        let order = [&sick[0], &well[0], &sick[1], &sick[2], &well[1]];
        let mut outcomes = Vec::new();
        for event in order {
            outcomes.push(h.runtime.handle(&projection, event).await);
        }
        assert_eq!(outcomes[2], Handled::Parked, "{projection:?} poison");
        assert_eq!(
            outcomes[3],
            Handled::Parked,
            "{projection:?} behind the poison"
        );
        assert!(
            matches!(outcomes[4], Handled::Applied(_)),
            "{projection:?} other stream"
        );
        assert_eq!(
            h.parked(&projection).await,
            vec![
                ("ledger-sick".to_owned(), Some(1), MAX_ATTEMPTS as i32),
                ("ledger-sick".to_owned(), Some(2), 0),
            ]
        );
        // Redelivery of a parked event parks nothing new.
        assert_eq!(
            h.runtime.handle(&projection, &sick[1]).await,
            Handled::Parked
        );
        assert_eq!(h.parked(&projection).await.len(), 2);
    }
    let tries = &h.poison;
    assert_eq!(
        tries
            .postgres_tries
            .load(std::sync::atomic::Ordering::SeqCst),
        MAX_ATTEMPTS
    );
    assert_eq!(
        tries.redis_tries.load(std::sync::atomic::Ordering::SeqCst),
        MAX_ATTEMPTS
    );
    assert_eq!(h.pg_versions("sick").await, vec![0]);
    assert_eq!(h.pg_versions("well").await, vec![0, 1]);
    assert_eq!(h.redis_versions("sick").await, vec![0]);
    assert_eq!(h.redis_versions("well").await, vec![0, 1]);

    // Still poisoned: the re-drive stops at v1 and records another attempt.
    for projection in h.both() {
        assert!(h.runtime.redrive(&projection, "ledger-sick").await.is_err());
        assert_eq!(h.parked(&projection).await[0].2, MAX_ATTEMPTS as i32 + 1);
    }
    h.poison
        .fixed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for projection in h.both() {
        let report = h
            .runtime
            .redrive(&projection, "ledger-sick")
            .await
            .expect("redrive");
        assert_eq!(report.applied, 2);
        assert!(h.parked(&projection).await.is_empty());
    }
    assert_eq!(h.pg_versions("sick").await, vec![0, 1, 2]);
    assert_eq!(h.pg_total("sick").await, Some(1004));
    assert_eq!(h.redis_versions("sick").await, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_skip_drops_a_parked_event_and_the_rest_of_its_stream_redrives_past_it() {
    let h = Harness::new().await;
    let events = h.append("skip", &[Some(1), None, Some(3)]).await;
    for projection in h.both() {
        for event in &events {
            h.runtime.handle(&projection, event).await;
        }
        let parked = h.runtime.parked(Some(projection.name())).await.unwrap();
        let (v1, v2) = (parked[0].id, parked[1].id);
        assert!(matches!(
            h.runtime.skip(&projection, v2 + 1000).await,
            Err(RuntimeError::NotParked { .. })
        ));
        // v2 waits behind v1: skipping it first would let the stream overtake v1.
        assert!(matches!(
            h.runtime.skip(&projection, v2).await,
            Err(RuntimeError::NotOldestParked { oldest, .. }) if oldest == v1
        ));
        let skipped = h.runtime.skip(&projection, v1).await.expect("skip v1");
        assert_eq!(skipped.version, Some(1));
        // v2 is still parked: the stream stays stopped until it is re-driven.
        assert_eq!(
            h.runtime.handle(&projection, &events[2]).await,
            Handled::Parked
        );
        let report = h
            .runtime
            .redrive(&projection, "ledger-skip")
            .await
            .expect("redrive");
        assert_eq!(report.applied, 1);
        assert!(h.parked(&projection).await.is_empty());
    }
    assert_eq!(h.pg_versions("skip").await, vec![0, 2]);
    assert_eq!(h.pg_total("skip").await, Some(4));
    assert_eq!(h.redis_versions("skip").await, vec![0, 2]);
}

/// A message of `ledger-<id>` whose body is not an event and which does not say its version.
fn undecodable(id: &str) -> ReceivedMessage {
    ReceivedMessage {
        topic: "ledger".to_owned(),
        tag: None,
        keys: vec![],
        properties: BTreeMap::from([(property::STREAM_ID.to_owned(), format!("ledger-{id}"))]),
        body: b"{ not json".to_vec(),
        msg_id: format!("undecodable-{id}"),
        queue_id: 0,
        queue_offset: 0,
        reconsume_times: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_a_parked_message_without_a_version_is_skipped_by_id_and_its_stream_flows_again() {
    let h = Harness::new().await;
    let events = h.append("blind", &[Some(1), Some(2), Some(4)]).await;
    for projection in h.both() {
        h.runtime.handle(&projection, &events[0]).await;
        assert_eq!(
            h.runtime
                .handle_message(&projection, &undecodable("blind"))
                .await,
            Handled::Parked
        );
        assert_eq!(
            h.runtime.handle(&projection, &events[1]).await,
            Handled::Parked
        );
        assert_eq!(
            h.parked(&projection).await,
            vec![
                ("ledger-blind".to_owned(), None, 1),
                ("ledger-blind".to_owned(), Some(1), 0)
            ]
        );
        // The re-drive cannot apply a message without a version and says to skip it.
        let failed = h.runtime.redrive(&projection, "ledger-blind").await;
        let blind = h.runtime.parked(Some(projection.name())).await.unwrap()[0].id;
        assert!(
            failed
                .unwrap_err()
                .to_string()
                .contains(&format!("skip --id {blind}")),
        );

        let skipped = h.runtime.skip(&projection, blind).await.expect("skip");
        assert_eq!(skipped.version, None);
        // v1 is still parked, so the stream stays stopped.
        assert_eq!(
            h.runtime.handle(&projection, &events[2]).await,
            Handled::Parked
        );
        let report = h
            .runtime
            .redrive(&projection, "ledger-blind")
            .await
            .expect("redrive");
        assert_eq!(report.applied, 2);
        assert!(h.parked(&projection).await.is_empty());
        // Flowing again: a redelivery is a duplicate, not parked.
        assert_eq!(
            h.runtime.handle(&projection, &events[2]).await,
            Handled::Applied(Applied::Duplicate)
        );
    }
    let more = h.append("blind", &[Some(8)]).await;
    for projection in h.both() {
        assert_eq!(
            h.runtime.handle(&projection, &more[0]).await,
            Handled::Applied(Applied::Applied { filled: 0 })
        );
    }
    assert_eq!(h.pg_versions("blind").await, vec![0, 1, 2, 3]);
    assert_eq!(h.pg_total("blind").await, Some(15));
    assert_eq!(h.redis_versions("blind").await, vec![0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_a_rebuild_from_the_log_equals_the_live_read_model() {
    let h = Harness::new().await;
    let a = h.append("a", &[Some(1), Some(2), Some(3)]).await;
    let b = h.append("b", &[Some(10), Some(20)]).await;
    for projection in h.both() {
        // Live: out of order across streams, with a duplicate and a gap.
        for event in [&b[0], &a[0], &a[2], &b[1], &a[1], &b[0]] {
            h.runtime.handle(&projection, event).await;
        }
        let live = snapshot(&h.runtime, &projection).await;
        let report = h.runtime.rebuild(&projection).await.expect("rebuild");
        assert_eq!(report.events, 5);
        assert_eq!(report.parked, 0);
        assert_eq!(
            snapshot(&h.runtime, &projection).await,
            live,
            "{projection:?}"
        );
    }
    assert_eq!(h.pg_total("a").await, Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_a_missing_redis_epoch_rebuilds_the_model_and_a_present_one_does_not() {
    let h = Harness::unbuilt().await;
    h.append("e", &[Some(1), Some(2)]).await;
    let cache = h.cache.clone();
    let first = h.runtime.ensure_built(&cache).await.expect("first start");
    assert_eq!(
        first.map(|report| report.events),
        Some(2),
        "nothing built yet"
    );
    let built = snapshot(&h.runtime, &cache).await;
    assert_eq!(h.redis_versions("e").await, vec![0, 1]);
    assert!(
        h.runtime
            .ensure_built(&cache)
            .await
            .expect("second start")
            .is_none()
    );

    // Redis loses everything: the next start rebuilds it from the log.
    h.drop_redis_keys().await;
    assert!(h.redis_versions("e").await.is_empty());
    let again = h
        .runtime
        .ensure_built(&cache)
        .await
        .expect("start after loss");
    assert_eq!(again.map(|report| report.events), Some(2));
    assert_eq!(snapshot(&h.runtime, &cache).await, built);

    // PostgreSQL: built once (progress row), not again.
    let table = h.table.clone();
    assert!(h.runtime.ensure_built(&table).await.expect("pg").is_some());
    assert!(
        h.runtime
            .ensure_built(&table)
            .await
            .expect("pg again")
            .is_none()
    );
    assert_eq!(h.pg_versions("e").await, vec![0, 1]);
}
