//! The domain workload: customer and product streams whose events come from the aggregates'
//! `decide`, appended with the stream's expected version, exactly as the command services do.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use aggregates::{
    Aggregate, Currency, Customer, CustomerId, DomainEvent, Money, Product, ProductId, SkuId,
    customer::CustomerCommand, product::ProductCommand,
};
use chrono::Utc;
use event_store::{EventStore, ExpectedVersion, NewEvent, StoreError, StreamId};
use tokio::sync::Mutex;
use uuid::Uuid;

/// One aggregate's stream: its folded state and last version.
pub struct Entity<A: Aggregate> {
    pub stream: StreamId,
    state: A::State,
    version: Option<u64>,
}

impl<A: Aggregate> Entity<A>
where
    A::Error: std::fmt::Debug,
{
    pub fn new(id: &A::Id) -> Self {
        Self {
            stream: StreamId::new(A::CATEGORY, id).expect("valid stream id"),
            state: A::State::default(),
            version: None,
        }
    }

    /// The stream's last version, `None` before its first append.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Decides `commands` one after another and appends all their events in one append; returns
    /// the stream's version after it.
    pub async fn run(
        &mut self,
        store: &EventStore,
        commands: impl IntoIterator<Item = A::Command>,
    ) -> Result<u64, StoreError> {
        let mut state = self.state.clone();
        let mut decided = Vec::new();
        for command in commands {
            let events = A::decide(&state, command).expect("the workload's commands are valid");
            state = A::fold_from(state, &events);
            decided.extend(events);
        }
        let new: Vec<NewEvent> = decided
            .iter()
            .map(|event| {
                NewEvent::new(event.event_type(), event.to_data())
                    .with_schema_version(event.schema_version())
            })
            .collect();
        let expected = self
            .version
            .map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let result = store.append(&self.stream, expected, &new).await?;
        self.state = state;
        self.version = Some(result.current_version);
        Ok(result.current_version)
    }
}

pub fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

fn deposit() -> CustomerCommand {
    CustomerCommand::DepositBalance {
        amount: eur(100),
        at: Utc::now(),
    }
}

/// A registered customer (1 event).
pub async fn customer(store: &EventStore) -> Entity<Customer> {
    let id = CustomerId::from(Uuid::new_v4());
    let mut entity = Entity::<Customer>::new(&id);
    let register = CustomerCommand::Register {
        customer_id: id,
        email: format!("{id}@example.com"),
        name: "Bench Customer".to_owned(),
        currency: Currency::EUR,
        at: Utc::now(),
    };
    entity.run(store, [register]).await.expect("register");
    entity
}

/// `deposits` `BalanceDeposited` events on `entity`, appended `per_append` at a time.
pub async fn deposits(
    store: &EventStore,
    entity: &mut Entity<Customer>,
    deposits: usize,
    per_append: usize,
) {
    let mut left = deposits;
    while left > 0 {
        let n = left.min(per_append);
        entity
            .run(store, (0..n).map(|_| deposit()))
            .await
            .expect("deposit");
        left -= n;
    }
}

/// A product with one SKU in stock (3 events).
async fn product(store: &EventStore, n: usize) -> (Entity<Product>, SkuId) {
    let (id, sku_id) = (ProductId::from(Uuid::new_v4()), SkuId::from(Uuid::new_v4()));
    let mut entity = Entity::<Product>::new(&id);
    let at = Utc::now();
    let commands = [
        ProductCommand::CreateProduct {
            product_id: id,
            title: format!("Bench product {n}"),
            description: "A product of the projections benchmark".to_owned(),
            at,
        },
        ProductCommand::AddSku {
            sku_id,
            price: eur(4999),
            attributes: BTreeMap::from([("size".to_owned(), "M".to_owned())]),
            at,
        },
        ProductCommand::RestockSku {
            sku_id,
            quantity: 1_000,
            at,
        },
    ];
    entity.run(store, commands).await.expect("create product");
    (entity, sku_id)
}

/// A stream the lag generator appends to: one event per call.
pub enum Target {
    /// `BalanceDeposited` on a registered customer (read model `customers`).
    Customer(Entity<Customer>),
    /// `SkuRestocked` on a product's only SKU (read model `catalog`).
    Product(Entity<Product>, SkuId),
}

impl Target {
    pub fn stream(&self) -> &StreamId {
        match self {
            Self::Customer(entity) => &entity.stream,
            Self::Product(entity, _) => &entity.stream,
        }
    }

    /// Appends the next event; returns its version.
    pub async fn next(&mut self, store: &EventStore) -> Result<u64, StoreError> {
        match self {
            Self::Customer(entity) => entity.run(store, [deposit()]).await,
            Self::Product(entity, sku_id) => {
                let restock = ProductCommand::RestockSku {
                    sku_id: *sku_id,
                    quantity: 1,
                    at: Utc::now(),
                };
                entity.run(store, [restock]).await
            }
        }
    }
}

/// The streams of one read model's workload, each behind its own lock: appends to one stream go
/// one after another (each needs the version the previous one produced), different streams
/// proceed concurrently.
pub type Fleet = Vec<Arc<Mutex<Target>>>;

pub async fn customers(store: &EventStore, n: usize) -> Fleet {
    let mut fleet = Vec::with_capacity(n);
    for _ in 0..n {
        fleet.push(Arc::new(Mutex::new(Target::Customer(
            customer(store).await,
        ))));
    }
    fleet
}

pub async fn products(store: &EventStore, n: usize) -> Fleet {
    let mut fleet = Vec::with_capacity(n);
    for i in 0..n {
        let (entity, sku) = product(store, i).await;
        fleet.push(Arc::new(Mutex::new(Target::Product(entity, sku))));
    }
    fleet
}

/// Each stream of `fleet` and its last version.
pub async fn versions(fleet: &Fleet) -> HashMap<String, u64> {
    let mut expected = HashMap::new();
    for target in fleet {
        let target = target.lock().await;
        let version = match &*target {
            Target::Customer(entity) => entity.version(),
            Target::Product(entity, _) => entity.version(),
        };
        expected.insert(target.stream().to_string(), version.unwrap_or(0));
    }
    expected
}
