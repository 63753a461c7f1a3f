//! `scripts/bench commands`: round trips of real commands through the real gRPC services, next to
//! the raw append rate of the event store measured in the same run.
//!
//! Ours: the product service, and the cart service pointed at it, started in process
//! ([`command::App::build_with_store`]) on `127.0.0.1:0` over one fresh database, each
//! with a pool of the configured size (`database.max_connections`; they are separate processes
//! in production). Closed-loop tonic clients, one connection each, call them over loopback with
//! real JWTs; every call is a new command id.
//! - `ProductCommands.ReserveStock` (token of a service): one item, a new reservation id per call,
//!   on products seeded untimed with a million items. Each client reserves on products of its own
//!   (no contention), moving to a fresh one every 50 calls, so product streams are 3 to 53 events
//!   long at every level: a command loads and folds its whole stream.
//! - `CartCommands.AddItem` (the customer's own token): the cart service asks the product service
//!   for the SKU's facts on every call (a second gRPC hop, part of the figure). Each client fills
//!   carts of 10 lines from a catalog of 64 products, then moves to a new customer's cart.
//! - Diagnostics, one pair each: every client on one hot product (conflicts, `ABORTED` after the
//!   service's retries), and products that already hold 1 000 reservations.
//!
//! Baseline (docs/benchmark-method.md): `EventStore::append` of one event — a copy of an event the
//! command wrote in this run, so payload and metadata are the same size — by as many closed-loop
//! writers, each on a stream of its own, through a pool of the same size. Trials alternate
//! ours/baseline (A B A B A B); the ratio is the median of the per-pair ratios of commands/s ÷
//! appended events/s, with the events each command wrote beside it. Latencies are every call's,
//! exact percentiles over a row's trials; failed calls are counted by gRPC code, and must be zero
//! without contention. Clients, services and PostgreSQL share the machine's cores.
//!
//! `BENCH_TRIAL_SECS` (default 3) and `BENCH_LEVELS` (default `1,16,64`) narrow a run.

mod cart;
mod harness;
mod product;
mod server;

use std::time::Duration;

use command::ServiceKind;
use event_store::{EventStore, testing::TestDatabase};
use settings::Settings;

use crate::{
    cart::{AddItem, CATALOG},
    harness::{Bench, Row, Workload, errors, ms, trial},
    product::{LONG_HISTORY, Reserve, seed_products},
    server::Server,
};

/// Ours/baseline pairs of trials per row.
const PAIRS: usize = 3;
/// The goal: commands at 64 clients at least 0.7× the raw append rate.
const GOAL_CLIENTS: usize = 64;
const GOAL_RATIO: f64 = 0.7;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let duration = Duration::from_secs_f64(env_or("BENCH_TRIAL_SECS", 3.0));
    let levels: Vec<usize> = std::env::var("BENCH_LEVELS").ok().map_or_else(
        || vec![1, 16, 64],
        |spec| {
            spec.split(',')
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        },
    );
    let pool = Settings::load()
        .expect("settings load")
        .database
        .max_connections;
    let db = TestDatabase::create(pool).await;
    let store = db.store();
    let bench = Bench {
        store: store.clone(),
        duration,
    };
    eprintln!(
        "command benchmark: {duration:?} trials, {PAIRS} ours/append pairs per row, pool {pool}, \
         levels {levels:?}"
    );
    let product = Server::start(ServiceKind::Product, &db, store.clone(), &[]).await;

    let mut rows = Vec::new();
    let mut reserve = Reserve {
        server: product.clone(),
        store: store.clone(),
        hot: false,
        history: 0,
    };
    // Warm-up (not reported): opens the pool's connections, writes the baseline's template
    // event and gives a first rate to size the seeding by.
    let warm = trial(reserve.clients(16, 2_000).await, Duration::from_secs(1)).await;
    let mut reserve_rate = warm.rate;
    for &clients in &levels {
        rows.push(
            bench
                .compare(
                    "ProductCommands.ReserveStock",
                    &mut reserve,
                    clients,
                    PAIRS,
                    &mut reserve_rate,
                )
                .await,
        );
    }
    // The cart service is another process in production: it gets a pool of its own.
    let cart_pool = event_store::pool_options(&db.settings.database)
        .max_connections(pool)
        .connect_with(
            event_store::connect_options(&db.settings.database)
                .expect("database url")
                .database(&db.name),
        )
        .await
        .expect("cart pool connects");
    let cart_store = EventStore::new(cart_pool, db.settings.event_store.clone());
    let endpoint = format!("http://{}", product.address);
    let cart = Server::start(
        ServiceKind::Cart,
        &db,
        cart_store,
        &[("APP_COMMAND__PRODUCT_ENDPOINT", endpoint)],
    )
    .await;
    let mut add_item = AddItem {
        catalog: seed_products(&product.channel, &product.admin, CATALOG).await,
        cart,
    };
    let warm = trial(add_item.clients(16, 2_000).await, Duration::from_secs(1)).await;
    let mut add_item_rate = warm.rate;
    for &clients in &levels {
        rows.push(
            bench
                .compare(
                    "CartCommands.AddItem",
                    &mut add_item,
                    clients,
                    PAIRS,
                    &mut add_item_rate,
                )
                .await,
        );
    }

    let hot_clients = levels.iter().copied().max().unwrap_or(16).min(16);
    let mut hot = Reserve {
        server: product.clone(),
        store: store.clone(),
        hot: true,
        history: 0,
    };
    let mut notes = vec![
        bench
            .compare(
                "ReserveStock, one hot product",
                &mut hot,
                hot_clients,
                1,
                &mut reserve_rate,
            )
            .await,
    ];
    let mut long = Reserve {
        server: product.clone(),
        store: store.clone(),
        hot: false,
        history: LONG_HISTORY,
    };
    notes.push(
        bench
            .compare(
                &format!("ReserveStock, {LONG_HISTORY}-event streams"),
                &mut long,
                hot_clients,
                1,
                &mut reserve_rate,
            )
            .await,
    );

    print_table(&format!("commands ({pool}-connection pools)"), &rows);
    print_table("diagnostics (one pair each)", &notes);
    println!();
    for row in rows.iter().filter(|r| r.clients == GOAL_CLIENTS) {
        let verdict = if row.ratio >= GOAL_RATIO {
            "met"
        } else {
            "not met"
        };
        println!(
            "goal: {} at {GOAL_CLIENTS} clients ≥ {GOAL_RATIO:.2}× raw append: {:.2}× ({verdict})",
            row.name, row.ratio
        );
    }
}

fn print_table(title: &str, rows: &[Row]) {
    println!();
    println!(
        "| {title} | clients | commands/s | p50 ms | p99 ms | append events/s | \
         append p50 / p99 ms | events/command | commands ÷ appends | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} / {:.1} | {:.2} | {:.2} | {} |",
            r.name,
            r.clients,
            r.ours.rate,
            ms(r.ours.p50),
            ms(r.ours.p99),
            r.raw.rate,
            ms(r.raw.p50),
            ms(r.raw.p99),
            r.events_per_command,
            r.ratio,
            errors(&r.ours.errors),
        );
    }
}
