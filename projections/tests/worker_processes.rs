//! Projection workers as real processes against a Redis of the test's own, while command
//! traffic flows through the relay (also a process) and the broker:
//!
//! - two workers starting together on a fresh Redis, under traffic, rebuild each model once
//!   and end equal to a fresh rebuild (the per-model lease, runtime/lease.rs), ten times over;
//! - a Redis flushed while a worker runs is rebuilt by that worker, without a restart;
//! - a Redis rolled back to older keys and markers (a failover to a replica that lagged) is
//!   caught up from the log by the periodic check (runtime/reconcile.rs), without a restart.

mod e2e_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e_support::*;
use event_store::testing::TestDatabase;
use projections::runtime::ProjectionRuntime;
use settings::Settings;
use uuid::Uuid;

/// Rounds of the two-workers test.
const ROUNDS: usize = 10;
/// Customers with a cart before its first round.
const HISTORY: usize = 120;

/// One test's world: its database, command services, a private Redis, the relay process, and a
/// second database the read models are rebuilt into for comparison.
struct World {
    db: TestDatabase,
    services: Arc<Services>,
    redis: PrivateRedis,
    settings: Settings,
    relay: Option<Worker>,
    live: Arc<ProjectionRuntime>,
    rebuilt: Arc<ProjectionRuntime>,
    rebuilt_prefix: String,
    _target: TestDatabase,
    product: (Uuid, Uuid),
}

impl World {
    async fn start() -> Self {
        let db = TestDatabase::create(8).await;
        let redis = PrivateRedis::start().await;
        let mut settings = unique_settings(&db);
        settings.redis.url = redis.url.clone().into();
        settings.projections.reconcile_interval_ms = 300;
        settings.projections.reconcile_grace_ms = 0;
        let services = Arc::new(Services::start(&db).await);
        let product = services
            .product_with_stock("Wool socks", 900, 100_000)
            .await;
        let relay = spawn_worker(&workspace_binary("commerce-relay"), &[], &settings);
        let prefix = settings.projections.redis_prefix.clone();
        let live = runtime_over(&db, db.pool.clone(), &settings, &prefix).await;
        let target = TestDatabase::create(4).await;
        let rebuilt_prefix = format!("{prefix}-rebuilt");
        let rebuilt = runtime_over(&db, target.pool.clone(), &settings, &rebuilt_prefix).await;
        Self {
            db,
            services,
            redis,
            settings,
            relay: Some(relay),
            live,
            rebuilt,
            rebuilt_prefix,
            _target: target,
            product,
        }
    }

    fn worker(&self) -> Worker {
        spawn_worker(
            std::path::Path::new(env!("CARGO_BIN_EXE_commerce-projections")),
            &["run"],
            &self.settings,
        )
    }

    /// Commands in the background: `customers` new customers, each registered with deposits
    /// and a cart line.
    fn traffic(&self, customers: usize) -> tokio::task::JoinHandle<()> {
        let services = Arc::clone(&self.services);
        let (product, sku) = self.product;
        tokio::spawn(async move {
            for _ in 0..customers {
                let customer = Uuid::new_v4();
                services.register_with_deposits(customer, 2).await;
                services.add_to_cart(customer, product, sku, 1).await;
                services.add_to_cart(customer, product, sku, 2).await;
            }
        })
    }

    /// Registers `customers` and gives each a cart line, eight at a time.
    async fn carts(&self, customers: &[Uuid]) {
        let (product, sku) = self.product;
        for chunk in customers.chunks(8) {
            let mut calls = Vec::new();
            for customer in chunk {
                let services = Arc::clone(&self.services);
                let customer = *customer;
                calls.push(tokio::spawn(async move {
                    services.register_with_deposits(customer, 1).await;
                    services.add_to_cart(customer, product, sku, 1).await;
                }));
            }
            for call in calls {
                call.await.unwrap();
            }
        }
    }

    /// Changes the cart line quantities of every fourth of `customers` (from `lane`) in turn
    /// until `stop`.
    fn cart_changes(
        &self,
        customers: &[Uuid],
        lane: usize,
        stop: Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let services = Arc::clone(&self.services);
        let (_, sku) = self.product;
        let mine: Vec<Uuid> = customers.iter().skip(lane).step_by(4).copied().collect();
        tokio::spawn(async move {
            for (turn, customer) in mine.iter().cycle().enumerate() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let quantity = 1 + (turn / mine.len()) as u32 % 9;
                // Load, not a check: a command refused while the machine is busy is no failure.
                if let Err(status) = services.set_quantity(*customer, sku, quantity).await {
                    eprintln!("background cart change refused: {status}");
                }
            }
        })
    }

    /// Waits until every model caught up with the log, then compares each with a fresh rebuild.
    async fn converges(&self, what: &str) {
        wait_until(tokio::time::Instant::now() + CONVERGE, what, || {
            caught_up(&self.live, &self.db, &self.settings)
        })
        .await;
        if let Err(difference) = equal_to_rebuild(
            &self.live,
            &self.settings.projections.redis_prefix,
            &self.rebuilt,
            &self.rebuilt_prefix,
        )
        .await
        {
            panic!("{what}: {difference}");
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            kill_hard(relay);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_starting_together_on_a_fresh_redis_under_traffic_equal_a_rebuild() {
    let world = World::start().await;
    // Enough history that a rebuild's clear and replay take a while, and carts to change.
    let customers: Vec<Uuid> = (0..HISTORY).map(|_| Uuid::new_v4()).collect();
    world.carts(&customers).await;
    for round in 0..ROUNDS {
        // A fresh Redis: both workers find every Redis model unbuilt.
        world.redis.flush_all().await;
        // Cart changes all along, so one worker's consumers write while the other rebuilds.
        let stop = Arc::new(AtomicBool::new(false));
        let traffic: Vec<_> = (0..4)
            .map(|lane| world.cart_changes(&customers, lane, Arc::clone(&stop)))
            .collect();
        let first = world.worker();
        // The second one a little later each round: its clear then overlaps the first one's
        // rebuild or consumers at a different point.
        tokio::time::sleep(Duration::from_millis(60 * round as u64)).await;
        let second = world.worker();
        wait_until(
            tokio::time::Instant::now() + CONVERGE,
            "both workers to start",
            || worker_ready(&world.db, &world.settings),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::SeqCst);
        for lane in traffic {
            lane.await.unwrap();
        }
        world
            .converges(&format!("round {round}: two workers on a fresh Redis"))
            .await;
        stop_gracefully(first);
        stop_gracefully(second);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_flushed_while_a_worker_runs_is_rebuilt_without_a_restart() {
    let world = World::start().await;
    let mut worker = world.worker();
    world.traffic(4).await.unwrap();
    world.converges("before the flush").await;

    world.redis.flush_all().await;
    // No traffic: the periodic check notices the missing epochs.
    world.converges("after the flush, idle").await;
    // Traffic right after another flush: the apply script refuses to write without the epoch.
    world.redis.flush_all().await;
    world.traffic(4).await.unwrap();
    world.converges("after the flush, under traffic").await;
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "the worker repaired Redis while running, without a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_rolled_back_by_a_failover_is_caught_up_from_the_log() {
    let world = World::start().await;
    let mut worker = world.worker();
    world.traffic(3).await.unwrap();
    world.converges("before the failover").await;

    // What an asynchronous replica holds: every key as it was before the latest writes.
    let mut redis = world.redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", world.settings.projections.redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut replica: Vec<(String, Vec<u8>)> = Vec::new();
    for key in keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        replica.push((key, dump));
    }
    world.traffic(3).await.unwrap();
    world
        .converges("before the failover, with the writes the replica lacks")
        .await;

    // The failover: the replica's keys (data and markers) replace the primary's.
    let started = Instant::now();
    world.redis.flush_all().await;
    for (key, dump) in &replica {
        redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(dump.as_slice())
            .query_async::<()>(&mut redis)
            .await
            .unwrap();
    }
    world.converges("after the failover, idle").await;
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "repaired while running, without a restart"
    );
}
