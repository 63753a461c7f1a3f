//! The log the replay reads: product streams whose events come from the product aggregate's
//! `decide`, appended through the event store in batches, each batch one user action (one
//! correlation id), by a few writers at once.
//!
//! Each product has [`SKUS`] SKUs. Its first append creates it, adds and restocks its SKUs; every
//! later append holds `per_append` stock commands: reservations of 1–3 SKUs (1–3 items each),
//! later committed (3 in 4) or released, and now and then a restock. So every stock event carries
//! the SKU levels the aggregate computed, exactly as the product service writes them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use aggregates::{
    Aggregate, Currency, DomainEvent, Money, Product, ProductId, ReservationId, SkuId,
    product::{ProductCommand, ProductState, StockLine},
};
use chrono::{DateTime, Utc};
use event_store::{EventMetadata, EventStore, ExpectedVersion, NewEvent, StreamId};
use uuid::Uuid;

/// SKUs per product.
pub const SKUS: usize = 3;
/// Each SKU's first restock: enough that no reservation of the run runs short.
const FIRST_STOCK: u32 = 100_000_000;
/// The `actor` of every generated event.
pub const ACTOR: &str = "bench-replay";

/// What was generated.
pub struct Log {
    /// Events appended.
    pub events: u64,
    /// Appends (each one correlation id).
    pub appends: u64,
    /// Product streams.
    pub streams: usize,
    /// Wall time of the whole generation.
    pub took: Duration,
    /// Every append's correlation id.
    pub correlations: Vec<Uuid>,
    /// `recorded_at` of the first and the last event.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A small deterministic xorshift generator: the same log shape on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Shop {
    id: ProductId,
    stream: StreamId,
    state: ProductState,
    version: Option<u64>,
    skus: Vec<SkuId>,
    open: VecDeque<ReservationId>,
}

impl Shop {
    fn new() -> Self {
        let id = ProductId::from(Uuid::new_v4());
        Self {
            id,
            stream: StreamId::new(Product::CATEGORY, id).expect("valid stream id"),
            state: ProductState::default(),
            version: None,
            skus: (0..SKUS).map(|_| SkuId::from(Uuid::new_v4())).collect(),
            open: VecDeque::new(),
        }
    }

    /// Creating the product, its SKUs and their first stock.
    fn opening(&self, n: usize, at: DateTime<Utc>) -> Vec<ProductCommand> {
        let mut commands = vec![ProductCommand::CreateProduct {
            product_id: self.id,
            title: format!("Replay product {n}"),
            description: "A product of the replay benchmark".to_owned(),
            at,
        }];
        for (i, sku_id) in self.skus.iter().enumerate() {
            commands.push(ProductCommand::AddSku {
                sku_id: *sku_id,
                price: Money::new(1_000 + 100 * i as i64, Currency::EUR),
                attributes: [("size".to_owned(), ["S", "M", "L"][i % 3].to_owned())].into(),
                at,
            });
            commands.push(ProductCommand::RestockSku {
                sku_id: *sku_id,
                quantity: FIRST_STOCK,
                at,
            });
        }
        commands
    }

    /// The next stock command.
    fn stock(&mut self, rng: &mut Rng, at: DateTime<Utc>) -> ProductCommand {
        if self.open.len() >= 4 || (!self.open.is_empty() && rng.below(3) == 0) {
            let reservation_id = self.open.pop_front().expect("an open reservation");
            return if rng.below(4) == 0 {
                ProductCommand::ReleaseStock { reservation_id, at }
            } else {
                ProductCommand::CommitStock { reservation_id, at }
            };
        }
        if rng.below(16) == 0 {
            return ProductCommand::RestockSku {
                sku_id: self.skus[rng.below(SKUS as u64) as usize],
                quantity: 100,
                at,
            };
        }
        let first = rng.below(SKUS as u64) as usize;
        let count = 1 + rng.below(SKUS as u64) as usize;
        let items = (0..count)
            .map(|i| StockLine {
                sku_id: self.skus[(first + i) % SKUS],
                quantity: 1 + rng.below(3) as u32,
            })
            .collect();
        let reservation_id = ReservationId::from(Uuid::new_v4());
        self.open.push_back(reservation_id);
        ProductCommand::ReserveStock {
            reservation_id,
            items,
            at,
        }
    }

    /// Decides `commands` in order and appends all their events in one append, tagged with one
    /// new correlation id (returned with the number of events).
    async fn append(&mut self, store: &EventStore, commands: Vec<ProductCommand>) -> (u64, Uuid) {
        let correlation = Uuid::new_v4();
        let metadata = EventMetadata {
            correlation_id: Some(correlation),
            causation_id: Some(Uuid::new_v4()),
            actor: Some(ACTOR.to_owned()),
            ..EventMetadata::default()
        };
        let mut state = self.state.clone();
        let mut new = Vec::with_capacity(commands.len());
        for command in commands {
            let events = Product::decide(&state, command).expect("the bench's commands are valid");
            state = Product::fold_from(state, &events);
            new.extend(events.iter().map(|event| {
                NewEvent::new(event.event_type(), event.to_data())
                    .with_schema_version(event.schema_version())
                    .with_metadata(metadata.clone())
            }));
        }
        let expected = self
            .version
            .map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let result = store
            .append(&self.stream, expected, &new)
            .await
            .expect("append");
        self.state = state;
        self.version = Some(result.current_version);
        (new.len() as u64, correlation)
    }
}

/// Appends about `target` events (at least) on `products` product streams, `per_append` events
/// per append, `writers` appending at once (each with products of its own).
pub async fn run(
    store: &EventStore,
    target: u64,
    products: usize,
    per_append: usize,
    writers: usize,
) -> Log {
    let started = Instant::now();
    let writers = writers.min(products).max(1);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let shops: Vec<Shop> = (w..products)
                .step_by(writers)
                .map(|_| Shop::new())
                .collect();
            let quota = target / writers as u64 + u64::from(w == 0) * (target % writers as u64);
            tokio::spawn(writer(store, shops, w, quota, per_append))
        })
        .collect();
    let (mut events, mut appends, mut correlations) = (0, 0, Vec::new());
    for task in tasks {
        let (e, c) = task.await.expect("writer");
        events += e;
        appends += c.len() as u64;
        correlations.extend(c);
    }
    let took = started.elapsed();
    let (from, to): (DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as("SELECT min(recorded_at), max(recorded_at) FROM events")
            .fetch_one(store.pool())
            .await
            .expect("log time span");
    Log {
        events,
        appends,
        streams: products,
        took,
        correlations,
        from,
        to,
    }
}

async fn writer(
    store: EventStore,
    mut shops: Vec<Shop>,
    seed: usize,
    quota: u64,
    per_append: usize,
) -> (u64, Vec<Uuid>) {
    let mut rng = Rng::new(seed as u64 + 1);
    let mut written = 0;
    let mut correlations = Vec::new();
    let mut turn = 0;
    while written < quota {
        let n = turn % shops.len();
        turn += 1;
        let shop = &mut shops[n];
        let at = Utc::now();
        let mut commands = match shop.version {
            None => shop.opening(n, at),
            Some(_) => Vec::new(),
        };
        let size = per_append
            .min((quota - written) as usize)
            .max(commands.len());
        while commands.len() < size {
            commands.push(shop.stock(&mut rng, at));
        }
        let (events, correlation) = shop.append(&store, commands).await;
        written += events;
        correlations.push(correlation);
    }
    (written, correlations)
}
