//! The leadership lock's connection: named `commerce-relay-leadership` so an operator (and these
//! tests) can find it, with short server-side TCP keepalives so a partitioned leader's lock is
//! released in seconds, not the kernel's two hours; and a standby takes over quickly when that
//! connection dies.
#![recursion_limit = "512"]

mod support;

use std::time::Duration;

use event_store::testing::TestDatabase;
use relay::{LEADERSHIP_APPLICATION_NAME, Standby, leadership_connect_options};
use sqlx::{Connection, PgConnection};
use tokio::time::Instant;

use support::{
    Collector, World, append_interleaved, assert_complete_in_stream_order, leader_and_standby,
    scrape, sigterm_and_wait, streams, wait_until,
};

const BUDGET: Duration = Duration::from_secs(180);

/// The backends of this database named like the leadership connection that hold an advisory
/// lock: the active relay's lock connection.
const LOCK_HOLDERS_SQL: &str = "SELECT a.pid FROM pg_stat_activity a \
     JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted \
     WHERE a.datname = current_database() AND a.application_name = 'commerce-relay-leadership'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_held_on_a_connection_named_commerce_relay_leadership() {
    let db = TestDatabase::create(2).await;
    let options = event_store::connect_options(&db.settings.database).expect("options");
    let mut standby = Standby::new(options, "main");
    let leader = standby
        .try_acquire()
        .await
        .expect("lock attempt")
        .expect("the only replica gets the lock");
    let holders: Vec<i32> = sqlx::query_scalar(LOCK_HOLDERS_SQL)
        .fetch_all(&db.pool)
        .await
        .expect("pg_stat_activity");
    assert_eq!(
        holders.len(),
        1,
        "one backend named commerce-relay-leadership holds the lock"
    );
    leader.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_within_seconds_when_the_leaders_lock_connection_is_terminated() {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let world = World::create().await;
    let streams = streams(6);
    let collector = Collector::start(&world.settings, &world.prefix).await;
    let (mut relays, ports, leader) = leader_and_standby(&world, deadline).await;
    let standby = 1 - leader;
    append_interleaved(&world.store, &streams, 0..10, 2).await;
    wait_until(deadline, "the first 60 events arrived", || async {
        collector.distinct() == 60
    })
    .await;

    let holders: Vec<i32> = sqlx::query_scalar(LOCK_HOLDERS_SQL)
        .fetch_all(&world.db.pool)
        .await
        .expect("pg_stat_activity");
    assert_eq!(
        holders.len(),
        1,
        "exactly one backend named commerce-relay-leadership holds the lock"
    );
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(holders[0])
        .fetch_one(&world.db.pool)
        .await
        .expect("pg_terminate_backend");
    assert!(terminated);
    let cut_at = Instant::now();

    // Sample both replicas until the standby publishes and the old leader has stopped, timing
    // how long both claimed to be active at once.
    let mut both_active = Duration::ZERO;
    let mut last_sample = cut_at;
    let took_over = loop {
        let old = scrape(ports[leader], "relay_active").await;
        let new = scrape(ports[standby], "relay_active").await;
        let now = Instant::now();
        if old == Some(1.0) && new == Some(1.0) {
            both_active += now - last_sample;
        }
        last_sample = now;
        if new == Some(1.0) && old == Some(0.0) {
            break now - cut_at;
        }
        assert!(
            now - cut_at < Duration::from_secs(10),
            "no take-over within 10 s of terminating the lock connection \
             (old leader active: {old:?}, standby active: {new:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "take-over after pg_terminate_backend: {took_over:?}; both active for {both_active:?}"
    );
    assert!(took_over < Duration::from_secs(5), "took {took_over:?}");
    assert!(
        both_active < Duration::from_secs(2),
        "both replicas active for {both_active:?}"
    );

    // The old leader publishes no more; the new one delivers the rest, in order.
    let old_published = scrape(ports[leader], "relay_published_events_total").await;
    append_interleaved(&world.store, &streams, 10..20, 2).await;
    wait_until(deadline, "all 120 events arrived", || async {
        collector.distinct() == 120
    })
    .await;
    assert_complete_in_stream_order(&collector.received(), &streams, 20);
    assert_eq!(
        scrape(ports[leader], "relay_published_events_total").await,
        old_published,
        "the old leader published nothing after losing its lock connection"
    );

    for relay in &mut relays.0 {
        sigterm_and_wait(relay, deadline).await;
    }
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leadership_connection_options_carry_short_server_side_keepalives() {
    let db = TestDatabase::create(2).await;
    let options = leadership_connect_options(
        event_store::connect_options(&db.settings.database).expect("options"),
    );
    let mut connection = PgConnection::connect_with(&options).await.expect("connect");
    for (setting, expected) in [
        ("application_name", LEADERSHIP_APPLICATION_NAME),
        ("tcp_keepalives_idle", "5"),
        ("tcp_keepalives_interval", "2"),
        ("tcp_keepalives_count", "3"),
        ("tcp_user_timeout", "10000"),
        // The relay's own options stay.
        ("plan_cache_mode", "force_generic_plan"),
    ] {
        let value: String = sqlx::query_scalar(&format!("SHOW {setting}"))
            .fetch_one(&mut connection)
            .await
            .expect("SHOW");
        assert_eq!(value, expected, "{setting}");
    }
    connection.close().await.expect("close");
}
