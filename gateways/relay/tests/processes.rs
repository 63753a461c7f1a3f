//! The `commerce-relay` binary as real processes: one active replica at a time, fail-over after
//! SIGKILL, and a crash in the middle of a stream that loses nothing and reorders nothing.
#![recursion_limit = "512"]

mod support;

use std::time::Duration;

use tokio::time::Instant;

use support::{
    Collector, Reaper, World, append_interleaved, assert_complete_in_stream_order, free_port,
    leader_and_standby, scrape, sigkill, sigterm_and_wait, streams, wait_until,
};

const BUDGET: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_of_two_relays_publishes_and_the_other_takes_over_after_a_sigkill() {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let world = World::create().await;
    let streams = streams(6);
    let collector = Collector::start(&world.settings, &world.prefix).await;
    let (mut relays, ports, active) = leader_and_standby(&world, deadline).await;
    let standby = 1 - active;

    append_interleaved(&world.store, &streams, 0..20, 2).await;
    wait_until(deadline, "the first 120 events arrived", || async {
        collector.distinct() == 120
    })
    .await;
    let before_kill = collector.received();
    assert_eq!(
        before_kill.len(),
        120,
        "no event is published twice while both relays live"
    );
    assert_eq!(
        scrape(ports[standby], "relay_published_events_total").await,
        Some(0.0),
        "the standby published nothing"
    );
    assert_eq!(scrape(ports[standby], "relay_active").await, Some(0.0));

    sigkill(&mut relays.0[active]);
    let killed_at = Instant::now();
    wait_until(
        killed_at + Duration::from_secs(15),
        "the standby takes over",
        || async { scrape(ports[standby], "relay_active").await == Some(1.0) },
    )
    .await;
    eprintln!("take-over after SIGKILL: {:?}", killed_at.elapsed());

    append_interleaved(&world.store, &streams, 20..40, 2).await;
    wait_until(deadline, "all 240 events arrived", || async {
        collector.distinct() == 240
    })
    .await;
    let received = collector.received();
    assert_complete_in_stream_order(&received, &streams, 40);
    world.until_checkpoint_at_log_end(deadline).await;

    sigterm_and_wait(&mut relays.0[standby], deadline).await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_stream_and_restarted_delivers_everything_at_least_once_in_order() {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let world = World::create().await;
    let streams = streams(20);
    let per_stream = 200u64;
    let total = streams.len() * per_stream as usize;
    let collector = Collector::start(&world.settings, &world.prefix).await;
    let port = free_port();
    let mut relays = Reaper(vec![world.spawn_relay(port)]);

    // An open-loop load: 5 events per stream (100 events) every 20 ms while the relay runs.
    let store = world.store.clone();
    let load_streams = streams.clone();
    let load = tokio::spawn(async move {
        let mut pace = tokio::time::interval(Duration::from_millis(20));
        let mut version = 0;
        while version < per_stream {
            pace.tick().await;
            append_interleaved(&store, &load_streams, version..version + 5, 5).await;
            version += 5;
        }
    });

    wait_until(deadline, "the relay has published 1,000 events", || async {
        scrape(port, "relay_published_events_total")
            .await
            .is_some_and(|published| published >= 1_000.0)
    })
    .await;
    assert!(
        !load.is_finished(),
        "the relay is killed while events keep coming"
    );
    sigkill(&mut relays.0[0]);
    let checkpoint_at_kill = world.checkpoint().await.unwrap_or_default();
    relays.0.push(world.spawn_relay(port));

    load.await.expect("load generator");
    assert_eq!(world.db.event_count().await as usize, total);
    let started = Instant::now();
    wait_until(deadline, "every event arrived", || async {
        collector.distinct() == total
    })
    .await;
    eprintln!(
        "killed with the checkpoint at {checkpoint_at_kill}; everything arrived {:?} after the load ended",
        started.elapsed()
    );
    let received = collector.received();
    let duplicates = assert_complete_in_stream_order(&received, &streams, per_stream);
    eprintln!("{duplicates} duplicates of {total} events after the crash");
    world.until_checkpoint_at_log_end(deadline).await;

    sigterm_and_wait(&mut relays.0[1], deadline).await;
    collector.stop().await;
}
