//! `scripts/bench checkout`: how fast a customer's purchase goes through the whole system, and
//! what of it is the process manager's own cost.
//!
//! **Ours.** The whole system as real processes (`checkout::testing::Stack`, release build):
//! `BENCH_CUSTOMERS` (default 16) customers, each with a product of their own (so stock is not
//! contended: the figure is the pipeline's, not one SKU's), buy in a closed loop for `BENCH_SECS`
//! (default 60): add one item to the cart, `Checkout` by balance, then wait until the `orders`
//! read model shows the order `paid` (polled every 10 ms: each customer's poll is a query on the
//! same PostgreSQL, so polling faster would load the machine it measures) — that interval, from the `Checkout`
//! call returning to "paid" visible, is the latency reported — and until the checkout completed
//! (stock committed, cart cleared) before the next purchase. Checkouts/s counts completed
//! purchases over the phase.
//!
//! **Baseline: the same hops, bare.** On the critical path a purchase crosses the relay and the
//! broker twice (`OrderPlaced` to the process manager, `OrderPaid` to the read model); the rest is
//! the process manager's own work (its records and ten gRPC calls) and the projection's. The
//! baseline measures two such hops in series with nothing in between, in the same run, with as
//! many concurrent clients: append an event to the log, wait until a bystander orderly consumer
//! of the relay's topic receives it, append the next one, wait for it: first commit → second
//! receive. Phases alternate (ours, baseline, `BENCH_PAIRS` times, default 1); samples of the
//! first 2 s of each phase are left out. Reported: p50 and p99 of both, checkouts/s, and the
//! ratios (docs/benchmark-method.md).
#![recursion_limit = "512"]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aggregates::{
    Aggregate, Customer, CustomerId, DomainEvent, Money, OrderId,
    customer::{CustomerCommand, CustomerState},
    money::Currency,
};
use checkout::testing::{PaymentMethod, Stack, StackOptions, fold};
use event_store::{CurrentVersion, EventMetadata, EventStore, ExpectedVersion, NewEvent, StreamId};
use futures::future::join_all;
use rocketmq::{
    BrokerClient, BrokerClientConfig, ConsumeOutcome, EventTopics, OrderlyConsumerConfig,
    ReceivedMessage, decode_event,
};
use tokio::sync::oneshot;
use uuid::Uuid;

const WARM_UP: Duration = Duration::from_secs(2);
/// How often a customer looks at the read model (and the log) for their purchase.
const POLL: Duration = Duration::from_millis(10);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let customers = usize::try_from(env("BENCH_CUSTOMERS", 16)).unwrap_or(16);
    let phase = Duration::from_secs(env("BENCH_SECS", 60));
    let pairs = env("BENCH_PAIRS", 1);
    eprintln!("checkout bench: starting every role as a process");
    let stack = Arc::new(
        Stack::start(StackOptions {
            max_connections: 4,
            ..StackOptions::default()
        })
        .await,
    );
    let buyers: Vec<Buyer> = join_all((0..customers).map(|_| Buyer::new(&stack))).await;
    let pingers: Vec<Uuid> = join_all((0..customers).map(|_| async {
        let customer = Uuid::new_v4();
        stack.customer(customer, 0).await;
        customer
    }))
    .await;
    let hops = Hops::start(&stack).await;
    // Warm up: one purchase each (connections, caches, queue locks).
    join_all(buyers.iter().map(|buyer| buyer.buy(&stack))).await;

    let mut rows = Vec::new();
    for pair in 0..pairs {
        eprintln!("pair {}: ours for {phase:?}", pair + 1);
        let ours = closed_loop(phase, &buyers, |buyer| buyer.buy(&stack)).await;
        eprintln!("pair {}: baseline for {phase:?}", pair + 1);
        let bare = closed_loop(phase, &pingers, |customer| hops.two(&stack, *customer)).await;
        rows.push((ours, bare));
    }
    hops.stop().await;
    report(customers, phase, &rows);
}

/// Runs `once` for every client in a closed loop for `phase`; the samples after the warm-up.
async fn closed_loop<'a, C, F, Fut>(phase: Duration, clients: &'a [C], once: F) -> Samples
where
    F: Fn(&'a C) -> Fut + Copy,
    Fut: Future<Output = Duration>,
{
    let start = Instant::now();
    let per_client = join_all(clients.iter().map(|client| async move {
        let mut samples = Vec::new();
        while start.elapsed() < phase {
            let latency = once(client).await;
            if start.elapsed() > WARM_UP {
                samples.push(latency);
            }
        }
        samples
    }))
    .await;
    let elapsed = start.elapsed().saturating_sub(WARM_UP);
    Samples::new(per_client.into_iter().flatten().collect(), elapsed)
}

/// A customer with a product of their own and a balance that never runs out.
struct Buyer {
    customer: Uuid,
    product: aggregates::ProductId,
    sku: aggregates::SkuId,
}

impl Buyer {
    async fn new(stack: &Stack) -> Self {
        let customer = Uuid::new_v4();
        stack.customer(customer, 1_000_000_000).await;
        let (product, sku) = stack.product(100, 1_000_000).await;
        Self {
            customer,
            product,
            sku,
        }
    }

    /// One purchase: the time from `Checkout` returning to the order shown paid.
    async fn buy(&self, stack: &Stack) -> Duration {
        let version = stack
            .add_to_cart(self.customer, self.product, self.sku, 1)
            .await;
        let order = OrderId(Uuid::new_v4());
        stack
            .checkout(self.customer, order, PaymentMethod::Balance, Some(version))
            .await
            .expect("checkout accepted");
        let returned = Instant::now();
        let pool = &stack.db.pool;
        loop {
            let paid: Option<String> =
                sqlx::query_scalar("SELECT status FROM rm_orders WHERE order_id = $1")
                    .bind(order.0)
                    .fetch_optional(pool)
                    .await
                    .expect("read the orders model");
            if matches!(paid.as_deref(), Some("paid" | "shipped")) {
                break;
            }
            assert!(
                !matches!(paid.as_deref(), Some("cancelled" | "refunded")),
                "order {order} was not paid"
            );
            tokio::time::sleep(POLL).await;
        }
        let latency = returned.elapsed();
        // The cart is cleared after "paid": wait for it before the next purchase adds to it.
        let stream = format!("checkout-{}", order.0);
        loop {
            let done: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1 \
                 AND event_type = 'CheckoutCompleted')",
            )
            .bind(&stream)
            .fetch_one(pool)
            .await
            .expect("read the log");
            if done {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        latency
    }
}

type Waiters = Arc<Mutex<HashMap<(String, u64), oneshot::Sender<Instant>>>>;

/// The baseline: a bystander orderly consumer of the customer topic that notes when each awaited
/// event arrives.
struct Hops {
    broker: BrokerClient,
    consumer: rocketmq::OrderlyConsumer,
    waiters: Waiters,
    states: Mutex<HashMap<Uuid, (CustomerState, u64)>>,
}

impl Hops {
    async fn start(stack: &Stack) -> Self {
        let settings = &stack.db.settings;
        let broker = BrokerClient::new(BrokerClientConfig::new(&settings.rocketmq.name_server))
            .expect("a broker client");
        let topics = EventTopics::new(stack.topic_prefix());
        let waiters: Waiters = Arc::default();
        let seen = Arc::clone(&waiters);
        let config = OrderlyConsumerConfig::new(
            format!("{}-bench-hops", stack.topic_prefix()),
            topics.topic(Customer::CATEGORY),
        );
        let consumer = broker
            .start_orderly_consumer(config, move |message: &ReceivedMessage| {
                let arrived = Instant::now();
                if let Ok(event) = decode_event(message) {
                    let key = (event.stream_id.to_string(), event.version);
                    if let Some(waiter) = seen.lock().expect("not poisoned").remove(&key) {
                        waiter.send(arrived).ok();
                    }
                }
                ConsumeOutcome::Done
            })
            .await
            .expect("the bystander consumer starts");
        Self {
            broker,
            consumer,
            waiters,
            states: Mutex::default(),
        }
    }

    /// Two hops in series for `customer`: commit of a deposit → received → commit of the next
    /// → received.
    async fn two(&self, stack: &Stack, customer: Uuid) -> Duration {
        let store = stack.store();
        let (committed, _) = self.hop(&store, customer).await;
        let (_, received) = self.hop(&store, customer).await;
        received.duration_since(committed)
    }

    /// Appends one deposit to `customer`'s stream; when it committed and when it arrived.
    async fn hop(&self, store: &EventStore, customer: Uuid) -> (Instant, Instant) {
        let id = CustomerId(customer);
        let stream = StreamId::parse(Customer::stream_id(&id)).expect("a stream id");
        let known = self
            .states
            .lock()
            .expect("not poisoned")
            .get(&customer)
            .cloned();
        let (state, version) = match known {
            Some(known) => known,
            None => {
                let state = fold::<Customer>(store, &id).await;
                let CurrentVersion::At(version) =
                    store.stream_version(&stream).await.expect("read")
                else {
                    panic!("customer {customer} is registered")
                };
                (state, version)
            }
        };
        let events = Customer::decide(
            &state,
            CustomerCommand::DepositBalance {
                amount: Money::new(1, Currency::EUR),
                at: chrono::Utc::now(),
            },
        )
        .expect("a deposit");
        let next = version + 1;
        let (sender, receiver) = oneshot::channel();
        self.waiters
            .lock()
            .expect("not poisoned")
            .insert((stream.to_string(), next), sender);
        let batch: Vec<NewEvent> = events
            .iter()
            .map(|event| NewEvent {
                event_id: Uuid::new_v4(),
                event_type: event.event_type().to_owned(),
                schema_version: event.schema_version(),
                data: event.to_data(),
                metadata: EventMetadata::default(),
            })
            .collect();
        store
            .append(&stream, ExpectedVersion::Exact(version), &batch)
            .await
            .expect("the deposit appends");
        let committed = Instant::now();
        let state = Customer::fold_from(state, &events);
        self.states
            .lock()
            .expect("not poisoned")
            .insert(customer, (state, next));
        let received = tokio::time::timeout(Duration::from_secs(30), receiver)
            .await
            .expect("the hop arrives within 30 s")
            .expect("the consumer runs");
        (committed, received)
    }

    async fn stop(self) {
        self.consumer.shutdown().await;
        self.broker.shutdown().await.ok();
    }
}

/// Latency samples of one phase.
struct Samples {
    sorted: Vec<Duration>,
    elapsed: Duration,
}

impl Samples {
    fn new(mut sorted: Vec<Duration>, elapsed: Duration) -> Self {
        sorted.sort();
        Self { sorted, elapsed }
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a short list"
        )]
        let index = ((self.sorted.len() as f64 - 1.0) * p).round() as usize;
        self.sorted[index]
    }

    fn rate(&self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "a count of samples")]
        let count = self.sorted.len() as f64;
        count / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn report(customers: usize, phase: Duration, rows: &[(Samples, Samples)]) {
    println!();
    println!(
        "checkout: {customers} concurrent customers, balance, {}s phases (first {}s left out)",
        phase.as_secs(),
        WARM_UP.as_secs()
    );
    println!(
        "| pair | checkouts/s | Checkout → paid visible p50 | p99 | 2 bare hops p50 | p99 | p50 ratio | p99 ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (index, (ours, bare)) in rows.iter().enumerate() {
        let (o50, o99) = (ours.percentile(0.50), ours.percentile(0.99));
        let (b50, b99) = (bare.percentile(0.50), bare.percentile(0.99));
        println!(
            "| {} | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.2}× | {:.2}× |",
            index + 1,
            ours.rate(),
            ms(o50),
            ms(o99),
            ms(b50),
            ms(b99),
            ms(o50) / ms(b50).max(1e-9),
            ms(o99) / ms(b99).max(1e-9),
        );
    }
    println!(
        "(goal: p99 ≤ 300 ms and ≥ 100 checkouts/s; samples: ours {}, baseline {})",
        rows.iter().map(|(o, _)| o.sorted.len()).sum::<usize>(),
        rows.iter().map(|(_, b)| b.sorted.len()).sum::<usize>()
    );
}
