//! Restore safety (docs/restore-safety.md): a checkpoint written in another PostgreSQL cluster
//! (after a pg_dump/restore or a logical-replication migration) is refused loudly instead of
//! stalling silently, and `commerce-relay reanchor` sets it right, after which everything after
//! the chosen position arrives.
#![recursion_limit = "512"]

mod support;

use std::time::Duration;

use event_store::AllPosition;
use relay::{Reanchor, ReanchorTarget, Relay, RelayError};
use tokio::time::Instant;

use support::{
    Collector, Reaper, World, append_interleaved, assert_complete_in_stream_order, free_port,
    scrape, sigterm_and_wait, start_relay, stop_relay, streams, versions_by_stream, wait_until,
};

const BUDGET: Duration = Duration::from_secs(180);

/// The next transaction id of the test's cluster.
async fn next_xid(world: &World) -> u64 {
    let next: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8")
            .fetch_one(&world.db.pool)
            .await
            .expect("read the next xid");
    next as u64
}

/// What a restore into another cluster leaves behind: the checkpoint of relay `main` at
/// `position`, with a transaction id the old cluster had reached and this one has not (a
/// million above its next xid), stamped with another cluster's log epoch where the schema keeps
/// one.
async fn simulate_restore_into_another_cluster(world: &World, position: u64) {
    let old_tx = next_xid(world).await + 1_000_000;
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, tx_id, position) VALUES ('main', $1::text::xid8, $2)",
    )
    .bind(old_tx.to_string())
    .bind(position as i64)
    .execute(&world.db.pool)
    .await
    .expect("write the old cluster's checkpoint");
    let keeps_epoch: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_name = 'relay_checkpoints' AND column_name = 'epoch')",
    )
    .fetch_one(&world.db.pool)
    .await
    .expect("inspect the schema");
    if keeps_epoch {
        sqlx::query("UPDATE relay_checkpoints SET epoch = epoch + 1 WHERE name = 'main'")
            .execute(&world.db.pool)
            .await
            .expect("stamp another epoch");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_from_another_cluster_is_refused_loudly_until_reanchored_then_everything_after_it_arrives()
 {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let world = World::create().await;
    let streams = streams(3);
    // The restored log: 3 × 5 events the old relay had published up to the last one.
    append_interleaved(&world.store, &streams, 0..5, 5).await;
    let restored_head = world.last_position().await.position;
    simulate_restore_into_another_cluster(&world, restored_head).await;

    let collector = Collector::start(&world.settings, &world.prefix).await;
    let port = free_port();
    let log = std::env::temp_dir().join(format!("{}-relay.log", world.prefix));
    let mut relays = Reaper(vec![world.spawn_relay_logging_to(port, &log)]);
    // New events written in the new cluster: their transaction ids are below the checkpoint's.
    append_interleaved(&world.store, &streams, 5..10, 5).await;

    wait_until(
        Instant::now() + Duration::from_secs(30),
        "the relay either publishes the new events or reports the log-epoch mismatch \
         (it must not stall silently)",
        || async {
            collector.distinct() > 0 || scrape(port, "relay_log_epoch_mismatch").await == Some(1.0)
        },
    )
    .await;
    assert_eq!(
        scrape(port, "relay_log_epoch_mismatch").await,
        Some(1.0),
        "the relay reports the mismatch"
    );
    assert_eq!(
        scrape(port, "relay_active").await,
        Some(0.0),
        "a refusing relay does not claim to be the active publisher"
    );
    assert_eq!(scrape(port, "relay_healthy").await, Some(0.0));
    assert_eq!(
        scrape(port, "relay_published_events_total").await,
        Some(0.0)
    );
    assert_eq!(collector.distinct(), 0, "nothing was published");
    let command = format!("commerce-relay reanchor --name main --after-position {restored_head}");
    wait_until(deadline, "the log names the re-anchor command", || async {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains(&command))
    })
    .await;
    let text = std::fs::read_to_string(&log).expect("relay log");
    let refusal = text.lines().find(|line| line.contains(&command));
    eprintln!("relay log: {}", refusal.unwrap_or_default());

    let output = world.run_relay_command(&[
        "reanchor",
        "--name",
        "main",
        "--after-position",
        &restored_head.to_string(),
    ]);
    assert!(
        output.status.success(),
        "reanchor failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "reanchor: {}",
        String::from_utf8_lossy(&output.stdout).trim()
    );

    // The running relay notices the re-anchored checkpoint by itself.
    wait_until(deadline, "the 15 new events arrive", || async {
        collector.distinct() >= 15
    })
    .await;
    let by_stream = versions_by_stream(&collector.received());
    for stream in &streams {
        let arrived = &by_stream[stream.as_str()];
        let new: Vec<u64> = arrived.iter().copied().filter(|v| *v >= 5).collect();
        assert_eq!(new, vec![5, 6, 7, 8, 9], "{stream}: new events in order");
    }
    assert_eq!(scrape(port, "relay_log_epoch_mismatch").await, Some(0.0));
    assert_eq!(scrape(port, "relay_active").await, Some(1.0));
    assert_eq!(scrape(port, "relay_healthy").await, Some(1.0));
    world.until_checkpoint_at_log_end(deadline).await;

    sigterm_and_wait(&mut relays.0[0], deadline).await;
    let _ = std::fs::remove_file(&log);
    collector.stop().await;
}

/// The stored epoch of relay `main`.
async fn stored_epoch(world: &World) -> i64 {
    sqlx::query_scalar("SELECT epoch FROM relay_checkpoints WHERE name = 'main'")
        .fetch_one(&world.db.pool)
        .await
        .expect("read the checkpoint's epoch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mismatch_the_relay_publishes_each_event_once_across_a_restart_and_stamps_this_clusters_epoch()
 {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let world = World::create().await;
    let streams = streams(3);
    let collector = Collector::start(&world.settings, &world.prefix).await;

    append_interleaved(&world.store, &streams, 0..10, 2).await;
    let relay = Relay::build(world.settings.clone()).await.expect("relay");
    let (metrics, stop, running) = start_relay(relay);
    wait_until(deadline, "the first 30 events arrive", || async {
        collector.distinct() == 30
    })
    .await;
    world.until_checkpoint_at_log_end(deadline).await;
    assert_eq!(metrics.log_epoch_mismatch.get(), 0);
    assert_eq!(metrics.healthy.get(), 1);
    assert_eq!(metrics.active.get(), 1);
    let epoch = relay::current_epoch(&world.db.pool).await.expect("epoch");
    assert_eq!(stored_epoch(&world).await, epoch.0);
    stop_relay(stop, running, deadline).await;

    // A restart in the same cluster resumes exactly where it stopped.
    append_interleaved(&world.store, &streams, 10..20, 2).await;
    let relay = Relay::build(world.settings.clone()).await.expect("relay");
    let (metrics, stop, running) = start_relay(relay);
    wait_until(deadline, "all 60 events arrive", || async {
        collector.distinct() == 60
    })
    .await;
    world.until_checkpoint_at_log_end(deadline).await;
    let duplicates = assert_complete_in_stream_order(&collector.received(), &streams, 20);
    assert_eq!(duplicates, 0, "nothing is published twice");
    assert_eq!(metrics.log_epoch_mismatch.get(), 0);
    assert_eq!(metrics.published_events.get(), 30);
    assert_eq!(stored_epoch(&world).await, epoch.0);
    stop_relay(stop, running, deadline).await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_of_another_epoch_is_refused_even_when_its_tx_id_looks_plausible() {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let world = World::create().await;
    let streams = streams(3);
    append_interleaved(&world.store, &streams, 0..4, 2).await;
    // The old cluster's checkpoint at an event this cluster really has: only the epoch says the
    // transaction ids are not comparable (new events could land below it and be skipped).
    let head = world.last_position().await;
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, tx_id, position, epoch) \
         VALUES ('main', $1::text::xid8, $2, relay_log_epoch() + 1)",
    )
    .bind(head.tx_id.to_string())
    .bind(head.position as i64)
    .execute(&world.db.pool)
    .await
    .expect("write the old cluster's checkpoint");
    let collector = Collector::start(&world.settings, &world.prefix).await;
    let relay = Relay::build(world.settings.clone()).await.expect("relay");
    let (metrics, stop, running) = start_relay(relay);
    append_interleaved(&world.store, &streams, 4..8, 2).await;
    wait_until(deadline, "the relay reports the mismatch", || async {
        metrics.log_epoch_mismatch.get() == 1
    })
    .await;
    assert_eq!(metrics.healthy.get(), 0);
    assert_eq!(metrics.active.get(), 0);
    assert_eq!(metrics.published_events.get(), 0);

    let reanchored = Reanchor {
        name: "main".to_owned(),
        target: ReanchorTarget::AfterPosition(head.position),
        force: false,
    }
    .run(&world.db.pool)
    .await
    .expect("re-anchor");
    eprintln!("{reanchored}");
    wait_until(deadline, "the 12 new events arrive", || async {
        collector.distinct() == 12
    })
    .await;
    assert_eq!(metrics.log_epoch_mismatch.get(), 0);
    assert_eq!(metrics.healthy.get(), 1);
    let epoch = relay::current_epoch(&world.db.pool).await.expect("epoch");
    world.until_checkpoint_at_log_end(deadline).await;
    assert_eq!(stored_epoch(&world).await, epoch.0);
    stop_relay(stop, running, deadline).await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reanchoring_after_a_position_covers_every_later_event_even_with_lower_tx_ids() {
    let world = World::create().await;
    let streams = streams(2);
    append_interleaved(&world.store, &streams, 0..10, 1).await;
    let events = world.db.all_events().await;
    let after = events[9].position;
    // Restored rows keep the old cluster's (here: higher) transaction ids; the events after the
    // re-anchor position were written in the new cluster, with lower ones.
    let next = next_xid(&world).await;
    sqlx::query("UPDATE events SET tx_id = $1::text::xid8 WHERE position <= $2")
        .bind((next - 1).to_string())
        .bind(after as i64)
        .execute(&world.db.pool)
        .await
        .expect("simulate restored transaction ids");
    simulate_restore_into_another_cluster(&world, after).await;

    let reanchor = |target| Reanchor {
        name: "main".to_owned(),
        target,
        force: false,
    };
    let reanchored = reanchor(ReanchorTarget::AfterPosition(after))
        .run(&world.db.pool)
        .await
        .expect("re-anchor");
    let anchor = world.checkpoint().await.expect("a checkpoint");
    assert_eq!(anchor, reanchored.now.at);
    let resumed: Vec<u64> = world
        .store
        .read_all(anchor, 1_000)
        .await
        .expect("read $all")
        .events
        .iter()
        .map(|event| event.position)
        .collect();
    for event in events.iter().filter(|event| event.position > after) {
        assert!(
            resumed.contains(&event.position),
            "position {} is published after re-anchoring at {after} ({anchor})",
            event.position
        );
    }

    // A consistent checkpoint is not re-anchored without --force; a position beyond the log
    // is refused; and so is a log whose transaction ids run ahead of this cluster.
    let refused = reanchor(ReanchorTarget::Start).run(&world.db.pool).await;
    assert!(
        matches!(&refused, Err(RelayError::Reanchor(why)) if why.contains("--force")),
        "{refused:?}"
    );
    let forced = Reanchor {
        force: true,
        ..reanchor(ReanchorTarget::Start)
    };
    forced.run(&world.db.pool).await.expect("forced replay");
    assert_eq!(world.checkpoint().await, Some(AllPosition::START));
    let beyond = Reanchor {
        force: true,
        ..reanchor(ReanchorTarget::AfterPosition(10_000))
    };
    assert!(matches!(
        beyond.run(&world.db.pool).await,
        Err(RelayError::Reanchor(_))
    ));
    sqlx::query("UPDATE events SET tx_id = $1::text::xid8 WHERE position = $2")
        .bind((next_xid(&world).await + 1_000).to_string())
        .bind(after as i64)
        .execute(&world.db.pool)
        .await
        .expect("a transaction id ahead of the cluster");
    let ahead = Reanchor {
        force: true,
        ..reanchor(ReanchorTarget::AfterPosition(after))
    }
    .run(&world.db.pool)
    .await;
    assert!(
        matches!(&ahead, Err(RelayError::Reanchor(why)) if why.contains("transaction counter")),
        "{ahead:?}"
    );
}
