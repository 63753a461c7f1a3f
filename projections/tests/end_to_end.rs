//! End to end, with every real component: gRPC commands → event log → relay → RocketMQ →
//! projection workers → Redis and PostgreSQL read models.
//!
//! - a command's effect shows up in the read models;
//! - a projection worker SIGKILLed mid-stream and restarted converges to exactly the state a fresh
//!   rebuild from the log gives (the project's main correctness check), while the relay is killed
//!   and restarted too (it re-sends what it had not checkpointed; the markers make those no-ops).

mod e2e_support;

use std::sync::Arc;

use event_store::testing::TestDatabase;
use projections::read_models;
use projections::runtime::live_redis_keys;
use settings::ExposeSecret;
use tokio::time::Instant;
use uuid::Uuid;

use e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_shows_up_in_the_redis_and_postgres_read_models() {
    let db = TestDatabase::create(16).await;
    let settings = unique_settings(&db);
    let services = Services::start(&db).await;
    let relay = spawn_worker(&workspace_binary("commerce-relay"), &[], &settings);
    let worker = spawn_worker(
        std::path::Path::new(env!("CARGO_BIN_EXE_commerce-projections")),
        &["run"],
        &settings,
    );
    wait_until(Instant::now() + CONVERGE, "the worker's start-up", || {
        worker_ready(&db, &settings)
    })
    .await;

    // From here on, effects can reach the read models only through relay and broker.
    let customer = Uuid::new_v4();
    services.register_with_deposits(customer, 2).await;
    let (product, sku) = services.product_with_stock("Linen shirt", 2500, 3).await;
    services.add_to_cart(customer, product, sku, 2).await;

    let runtime = runtime_over(
        &db,
        db.pool.clone(),
        &settings,
        &settings.projections.redis_prefix,
    )
    .await;
    wait_until(
        Instant::now() + CONVERGE,
        "the customer's balance",
        || async {
            read_models::customers::get(&db.pool, aggregates::CustomerId(customer))
                .await
                .unwrap()
                .is_some_and(|view| view.balance.amount_minor() == 200)
        },
    )
    .await;
    let redis = redis::Client::open(settings.redis.url.expose_secret())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let prefix = &settings.projections.redis_prefix;
    let catalog_keys = live_redis_keys(&mut redis.clone(), prefix, "catalog")
        .await
        .unwrap();
    let cart_keys = live_redis_keys(&mut redis.clone(), prefix, "cart_view")
        .await
        .unwrap();
    wait_until(
        Instant::now() + CONVERGE,
        "the product in the catalog",
        || {
            let mut redis = redis.clone();
            let keys = catalog_keys.clone();
            async move {
                read_models::catalog::get_product(&mut redis, &keys, aggregates::ProductId(product))
                    .await
                    .unwrap()
                    .is_some_and(|view| view.skus.len() == 1)
            }
        },
    )
    .await;
    wait_until(Instant::now() + CONVERGE, "the cart line", || {
        let mut redis = redis.clone();
        let keys = cart_keys.clone();
        async move {
            let cart =
                read_models::cart_view::load(&mut redis, &keys, aggregates::CustomerId(customer))
                    .await
                    .unwrap();
            cart.lines.len() == 1 && cart.lines[0].quantity == 2 && cart.valid
        }
    })
    .await;
    wait_until(
        Instant::now() + CONVERGE,
        "every read model to reach the log's end",
        || caught_up(&runtime, &db, &settings),
    )
    .await;
    kill_hard(worker);
    kill_hard(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_and_the_relay_killed_mid_stream_converge_to_a_fresh_rebuild() {
    let db = TestDatabase::create(16).await;
    let settings = unique_settings(&db);
    let services = Arc::new(Services::start(&db).await);
    let relay_binary = workspace_binary("commerce-relay");
    let worker_binary = std::path::Path::new(env!("CARGO_BIN_EXE_commerce-projections"));

    // A first batch of history, then both workers.
    let customers: Vec<Uuid> = (0..12).map(|_| Uuid::new_v4()).collect();
    for customer in &customers[..4] {
        services.register_with_deposits(*customer, 5).await;
    }
    let (product, sku) = services.product_with_stock("Wool socks", 900, 500).await;
    let relay = spawn_worker(&relay_binary, &[], &settings);
    let worker = spawn_worker(worker_binary, &["run"], &settings);
    wait_until(Instant::now() + CONVERGE, "the worker's start-up", || {
        worker_ready(&db, &settings)
    })
    .await;

    // Traffic through the broker while both run.
    for customer in &customers[4..8] {
        services.register_with_deposits(*customer, 5).await;
        services.add_to_cart(*customer, product, sku, 1).await;
    }
    wait_until(
        Instant::now() + CONVERGE,
        "live traffic to reach the read model",
        || customer_visible(&db, customers[7]),
    )
    .await;

    // More traffic; kill both workers in the middle of it.
    let traffic = {
        let services = Arc::clone(&services);
        let batch = customers[8..10].to_vec();
        tokio::spawn(async move {
            for customer in batch {
                services.register_with_deposits(customer, 10).await;
                services.add_to_cart(customer, product, sku, 1).await;
            }
        })
    };
    wait_until(
        Instant::now() + CONVERGE,
        "the worker to be mid-stream",
        || customer_visible(&db, customers[8]),
    )
    .await;
    kill_hard(worker);
    kill_hard(relay);
    traffic.await.unwrap();

    // More traffic while they are down, then restart both.
    for customer in &customers[10..] {
        services.register_with_deposits(*customer, 5).await;
        services.add_to_cart(*customer, product, sku, 2).await;
    }
    let relay = spawn_worker(&relay_binary, &[], &settings);
    let worker = spawn_worker(worker_binary, &["run"], &settings);

    let live = runtime_over(
        &db,
        db.pool.clone(),
        &settings,
        &settings.projections.redis_prefix,
    )
    .await;
    wait_until(
        Instant::now() + CONVERGE,
        "the restarted worker to catch up",
        || caught_up(&live, &db, &settings),
    )
    .await;

    // A fresh rebuild from the same log into another database and another key prefix.
    let target = TestDatabase::create(4).await;
    let rebuilt_prefix = format!("{}-rebuilt", settings.projections.redis_prefix);
    let rebuilt = runtime_over(&db, target.pool.clone(), &settings, &rebuilt_prefix).await;
    for projection in read_models::all() {
        rebuilt.rebuild(&projection).await.unwrap();
        let fresh = rebuilt.snapshot(&projection).await.unwrap();
        let converged = live.snapshot(&projection).await.unwrap();
        assert_eq!(
            normalise(converged, &settings.projections.redis_prefix),
            normalise(fresh, &rebuilt_prefix),
            "read model {} after the kills differs from a fresh rebuild",
            projection.name()
        );
    }
    kill_hard(worker);
    kill_hard(relay);
}
