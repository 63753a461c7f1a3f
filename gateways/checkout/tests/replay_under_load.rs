//! Replays with zero downtime (issue 14, "Done means"): on the real stack
//! (`checkout::testing::Stack`, every role a process), customers keep buying while a reader keeps
//! reading the catalog (Redis) and each customer's orders (PostgreSQL) over HTTP, and an operator
//! replays `catalog`, `orders` and `customers` with `commerce-projections`. Every answer must be
//! complete — never fewer products or orders than were already seen — the generations move, and
//! the switched models equal a rebuild (`verify all`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aggregates::{OrderId, ProductId, SkuId, checkout::Phase};
use checkout::testing::{PaymentMethod, Stack, StackOptions, wait_until};
use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

const PRODUCTS: usize = 4;
const CUSTOMERS: usize = 3;
/// Longest one purchase may take on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(30);
/// The read models the operator replays.
const REPLAYED: [&str; 3] = ["catalog", "orders", "customers"];

/// What the reader saw.
#[derive(Debug, Default)]
struct Seen {
    /// Complete answers.
    answers: usize,
    /// 503 `not_yet_consistent` (documented: the reader may retry).
    not_yet_consistent: usize,
    /// Anything else that is not a complete answer.
    failures: Vec<String>,
}

/// The counts every answer must reach: products created before the load, and per customer the
/// most orders an earlier answer showed.
struct Floors {
    orders: Vec<AtomicUsize>,
    reads: AtomicUsize,
}

/// One GET; `Ok(body)` on 200, `Err(None)` on 503 `not_yet_consistent`, `Err(Some(what))` on
/// anything else.
async fn get(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, Option<String>> {
    let response = http
        .get(url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|error| Some(format!("{url}: {error}")))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|error| Some(format!("{url}: {status}, body: {error}")))?;
    if status == reqwest::StatusCode::OK {
        return Ok(body);
    }
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
        && body["error"]["code"] == "not_yet_consistent"
    {
        return Err(None);
    }
    Err(Some(format!("{url}: {status} {body}")))
}

/// Reads the catalog and every customer's orders until `stop`, checking every answer.
async fn read_until(
    stack: Arc<Stack>,
    customers: Vec<Uuid>,
    floors: Arc<Floors>,
    stop: Arc<AtomicBool>,
) -> Seen {
    let http = reqwest::Client::new();
    let base = stack.http_url();
    let admin = stack.token("operator", &["admin"]);
    let tokens: Vec<String> = customers
        .iter()
        .map(|customer| stack.token(&customer.to_string(), &["customer"]))
        .collect();
    let mut seen = Seen::default();
    let note = |seen: &mut Seen, answer: Result<Option<String>, Option<String>>| match answer {
        Ok(None) => seen.answers += 1,
        Ok(Some(incomplete)) => seen.failures.push(incomplete),
        Err(None) => seen.not_yet_consistent += 1,
        Err(Some(error)) => seen.failures.push(error),
    };
    while !stop.load(Ordering::SeqCst) {
        let products = get(&http, &format!("{base}/api/v1/products?limit=100"), &admin)
            .await
            .map(|body| {
                let products = body["products"].as_array().cloned().unwrap_or_default();
                let complete = products
                    .iter()
                    .filter(|product| {
                        product["skus"]
                            .as_array()
                            .is_some_and(|skus| !skus.is_empty())
                    })
                    .count();
                (complete < PRODUCTS)
                    .then(|| format!("catalog: {complete} complete products of {PRODUCTS}: {body}"))
            });
        note(&mut seen, products);
        for (n, token) in tokens.iter().enumerate() {
            let floor = floors.orders[n].load(Ordering::SeqCst);
            let orders = get(&http, &format!("{base}/api/v1/orders?limit=100"), token)
                .await
                .map(|body| {
                    let count = body["orders"].as_array().map_or(0, Vec::len);
                    floors.orders[n].fetch_max(count, Ordering::SeqCst);
                    (count < floor).then(|| {
                        format!("orders of customer {n}: {count}, {floor} seen before: {body}")
                    })
                });
            note(&mut seen, orders);
        }
        floors.reads.fetch_add(1, Ordering::SeqCst);
        // Pacing, not synchronization: keep the two cores for the roles under test.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

/// `customer` buys one item at a time until `stop`; returns the orders placed, all completed.
async fn buy_until(
    stack: Arc<Stack>,
    customer: Uuid,
    catalog: Vec<(ProductId, SkuId)>,
    completed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut placed = 0;
    while !stop.load(Ordering::SeqCst) {
        let (product, sku) = catalog[placed % catalog.len()];
        stack.add_to_cart(customer, product, sku, 1).await;
        let order = OrderId(Uuid::new_v4());
        stack
            .checkout(customer, order, PaymentMethod::Balance, None)
            .await
            .expect("checkout accepted");
        let state = stack.settled(order, SETTLE).await;
        assert_eq!(state.phase, Phase::Completed, "{state:?}");
        placed += 1;
        completed.fetch_add(1, Ordering::SeqCst);
    }
    placed
}

/// The live generation of each replayed model, from the registry.
async fn live_generations(stack: &Stack) -> Vec<i32> {
    let mut live = Vec::new();
    for model in REPLAYED {
        let generation: Option<i32> = sqlx::query_scalar(
            "SELECT generation FROM read_model_generations \
             WHERE projection = $1 AND status = 'live'",
        )
        .bind(model)
        .fetch_optional(&stack.db.pool)
        .await
        .expect("read the registry");
        live.push(generation.unwrap_or(0));
    }
    live
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replays_under_load_switch_generations_and_every_read_stays_complete() {
    let stack = Arc::new(Stack::start(StackOptions::default()).await);
    let mut catalog = Vec::new();
    for _ in 0..PRODUCTS {
        catalog.push(stack.product(100, 100_000).await);
    }
    let customers: Vec<Uuid> = (0..CUSTOMERS).map(|_| Uuid::new_v4()).collect();
    for customer in &customers {
        stack.customer(*customer, 10_000_000).await;
    }
    // Every product is in the catalog before the load starts: from then on, every answer must
    // show them all.
    let http = reqwest::Client::new();
    let admin = stack.token("operator", &["admin"]);
    let url = format!("{}/api/v1/products?limit=100", stack.http_url());
    wait_until(
        Instant::now() + Duration::from_secs(60),
        "the catalog shows every product",
        || async {
            get(&http, &url, &admin)
                .await
                .is_ok_and(|body| body["products"].as_array().map_or(0, Vec::len) == PRODUCTS)
        },
    )
    .await;
    let before = live_generations(&stack).await;

    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicUsize::new(0));
    let floors = Arc::new(Floors {
        orders: (0..CUSTOMERS).map(|_| AtomicUsize::new(0)).collect(),
        reads: AtomicUsize::new(0),
    });
    let buyers: Vec<_> = customers
        .iter()
        .map(|customer| {
            tokio::spawn(buy_until(
                Arc::clone(&stack),
                *customer,
                catalog.clone(),
                Arc::clone(&completed),
                Arc::clone(&stop),
            ))
        })
        .collect();
    // Two readers, so that reads are in flight at any instant of a switch.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(read_until(
                Arc::clone(&stack),
                customers.clone(),
                Arc::clone(&floors),
                Arc::clone(&stop),
            ))
        })
        .collect();
    wait_until(
        Instant::now() + SETTLE,
        "the first purchases complete",
        || async { completed.load(Ordering::SeqCst) >= CUSTOMERS },
    )
    .await;

    // The operator replays three models, one after the other, in small pages so each build
    // takes many pages while the purchases go on.
    let reads_before = floors.reads.load(Ordering::SeqCst);
    let operator = Arc::clone(&stack);
    let outputs = tokio::task::spawn_blocking(move || {
        REPLAYED.map(|model| {
            operator.projections_cli(
                &["replay", model],
                &[
                    ("APP_PROJECTIONS__REPLAY_PAGE", "5"),
                    ("APP_DATABASE__MAX_CONNECTIONS", "6"),
                ],
            )
        })
    })
    .await
    .unwrap();
    let reads_during = floors.reads.load(Ordering::SeqCst) - reads_before;
    for (model, output) in REPLAYED.iter().zip(&outputs) {
        assert!(output.status.success(), "replay {model}: {}", text(output));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains(&format!("{model}: generation ")), "{said}");
    }
    // Purchases go on against the switched generations.
    let after_replays = completed.load(Ordering::SeqCst);
    wait_until(
        Instant::now() + SETTLE,
        "purchases complete after the switch",
        || async { completed.load(Ordering::SeqCst) >= after_replays + CUSTOMERS },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut placed = Vec::new();
    for buyer in buyers {
        placed.push(buyer.await.expect("a buyer"));
    }
    let mut seen = Seen::default();
    for reader in readers {
        let one = reader.await.expect("a reader");
        seen.answers += one.answers;
        seen.not_yet_consistent += one.not_yet_consistent;
        seen.failures.extend(one.failures);
    }
    eprintln!(
        "reader: {} complete answers, {} not_yet_consistent, {} rounds during the replays; \
         {} purchases",
        seen.answers,
        seen.not_yet_consistent,
        reads_during,
        placed.iter().sum::<usize>()
    );
    assert!(seen.failures.is_empty(), "{:#?}", seen.failures);
    assert!(
        reads_during > 0,
        "no read happened during the replays: the test proved nothing"
    );

    // The generations moved, and the switched models keep taking live batches: every order
    // placed shows up.
    let after = live_generations(&stack).await;
    for ((model, before), after) in REPLAYED.iter().zip(&before).zip(&after) {
        assert!(after > before, "{model}: generation {before} → {after}");
    }
    for (n, customer) in customers.iter().enumerate() {
        let token = stack.token(&customer.to_string(), &["customer"]);
        let url = format!("{}/api/v1/orders?limit=100", stack.http_url());
        wait_until(
            Instant::now() + SETTLE,
            &format!("customer {n} sees their {} orders", placed[n]),
            || async {
                get(&http, &url, &token)
                    .await
                    .is_ok_and(|body| body["orders"].as_array().map_or(0, Vec::len) == placed[n])
            },
        )
        .await;
    }
    // A model whose consumer lags (batches refused during a switch come back from the broker a
    // little later) differs from a rebuild by the lag: verify once every model caught up.
    let waited = Instant::now();
    let mut lagging = stack.lagging_read_models().await;
    if !lagging.is_empty() {
        eprintln!("lagging when the load stopped: {lagging:?}");
    }
    while !lagging.is_empty() {
        assert!(
            waited.elapsed() < SETTLE,
            "read models never caught up: {lagging:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        lagging = stack.lagging_read_models().await;
    }
    eprintln!("read models caught up after {:?}", waited.elapsed());
    let verify = stack.projections_cli(&["verify", "all"], &[]);
    assert!(verify.status.success(), "verify all: {}", text(&verify));
}
