//! `ProductCommands.ReserveStock`: seeding products, the spread, hot and long-stream cases.

use std::collections::{BTreeMap, VecDeque};

use event_store::{EventStore, ExpectedVersion, NewEvent, StreamId};
use futures::{StreamExt, stream};
use proto::{
    common::Money,
    product::{
        AddSkuRequest, CreateProductRequest, ReserveStockRequest, RestockSkuRequest, StockLine,
        product_commands_client::ProductCommandsClient,
    },
};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    harness::{Client, Workload, template},
    server::{Server, Token, authed, connect},
};

/// Reservations a client makes on one product before moving to a fresh one: product streams stay
/// between 3 and 53 events long at every level.
const RESERVATIONS_PER_PRODUCT: u64 = 50;
/// Earlier events of each product in the long-stream row.
pub const LONG_HISTORY: usize = 1_000;
/// Concurrency of the (untimed) seeding.
const SEEDERS: usize = 16;

/// A product with one SKU (the ids), seeded through the product service.
#[derive(Clone, Copy)]
pub struct Sku {
    /// The product.
    pub product_id: Uuid,
    /// Its one SKU.
    pub sku_id: Uuid,
}

/// Creates `n` products of one SKU with a million items each, `SEEDERS` at a time.
pub async fn seed_products(channel: &Channel, admin: &Token, n: usize) -> Vec<Sku> {
    stream::iter(0..n)
        .map(|_| {
            let mut client = ProductCommandsClient::new(channel.clone());
            async move {
                let sku = Sku {
                    product_id: Uuid::new_v4(),
                    sku_id: Uuid::new_v4(),
                };
                let (product_id, sku_id) = (sku.product_id.to_string(), sku.sku_id.to_string());
                let request = CreateProductRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product_id.clone(),
                    title: "Organic cotton T-shirt".into(),
                    description: "Navy, regular fit".into(),
                };
                client
                    .create_product(authed(request, admin))
                    .await
                    .expect("create product");
                let request = AddSkuRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product_id.clone(),
                    sku_id: sku_id.clone(),
                    price: Some(Money {
                        amount_minor: 1_299,
                        currency: "EUR".into(),
                    }),
                    attributes: BTreeMap::from([("size".into(), "M".into())]),
                };
                client
                    .add_sku(authed(request, admin))
                    .await
                    .expect("add sku");
                let request = RestockSkuRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id,
                    sku_id,
                    quantity: 1_000_000,
                };
                client
                    .restock_sku(authed(request, admin))
                    .await
                    .expect("restock");
                sku
            }
        })
        .buffer_unordered(SEEDERS)
        .collect()
        .await
}

/// `ProductCommands.ReserveStock`, one item of one SKU per call.
pub struct Reserve {
    /// The product service.
    pub server: Server,
    /// Its event store, to write the long streams' history directly.
    pub store: EventStore,
    /// All clients on one product (contention) instead of one product each.
    pub hot: bool,
    /// Earlier reservations written into each product before the trial (then a client stays on
    /// one product): how the cost grows with the stream's length.
    pub history: usize,
}

/// A client reserving on its own products, in turn (or on the one hot product).
pub struct Reserver {
    client: ProductCommandsClient<Channel>,
    token: Token,
    products: VecDeque<Sku>,
    made: u64,
}

impl Client for Reserver {
    async fn call(&mut self) -> Result<(), String> {
        if self.made == RESERVATIONS_PER_PRODUCT && self.products.len() > 1 {
            self.products.pop_front();
            self.made = 0;
        }
        let sku = self.products[0];
        self.made += 1;
        let request = ReserveStockRequest {
            command_id: Uuid::new_v4().to_string(),
            product_id: sku.product_id.to_string(),
            reservation_id: Uuid::new_v4().to_string(),
            items: vec![StockLine {
                sku_id: sku.sku_id.to_string(),
                quantity: 1,
            }],
        };
        self.client
            .reserve_stock(authed(request, &self.token))
            .await
            .map(drop)
            .map_err(|status| format!("{:?}", status.code()))
    }
}

impl Workload for Reserve {
    type Client = Reserver;
    const EVENT_TYPE: &'static str = "StockReserved";

    async fn clients(&mut self, clients: usize, calls: u64) -> Vec<Reserver> {
        let server = &self.server;
        let per_client = if self.hot {
            0
        } else if self.history > 0 {
            1
        } else {
            (calls / clients as u64).div_ceil(RESERVATIONS_PER_PRODUCT) as usize + 1
        };
        let seeded = (clients * per_client).max(1);
        let mut products = seed_products(&server.channel, &server.admin, seeded).await;
        if self.history > 0 {
            let (_, template) = template(&self.store, Self::EVENT_TYPE).await;
            for &sku in &products {
                add_history(&self.store, sku, &template, self.history).await;
            }
        }
        let mut out = Vec::with_capacity(clients);
        for _ in 0..clients {
            let products = if self.hot {
                products[..1].iter().copied().collect()
            } else {
                products.drain(..per_client).collect()
            };
            out.push(Reserver {
                client: ProductCommandsClient::new(connect(server.address).await),
                token: server.service.clone(),
                products,
                made: 0,
            });
        }
        out
    }
}

/// Appends `events` copies of `template` (a `StockReserved` of one item) to the product stream
/// of `sku` as it was just seeded: as many earlier reservations, in one batch.
async fn add_history(store: &EventStore, sku: Sku, template: &NewEvent, events: usize) {
    let stream = StreamId::new("product", sku.product_id).expect("stream id");
    let batch: Vec<NewEvent> = (0..events)
        .map(|_| {
            let mut event = template.clone();
            event.event_id = Uuid::new_v4();
            event.metadata.command_id = Some(Uuid::new_v4());
            event.data["product_id"] = sku.product_id.to_string().into();
            event.data["reservation_id"] = Uuid::new_v4().to_string().into();
            event.data["items"][0]["sku_id"] = sku.sku_id.to_string().into();
            event
        })
        .collect();
    // Created, SKU added, restocked: versions 0 to 2.
    store
        .append(&stream, ExpectedVersion::Exact(2), &batch)
        .await
        .expect("history appends");
}
