//! The setup phase: a catalogue of products with stock (created by an operator) and the virtual
//! customers, registered with a balance; then waits until the read models show every one of
//! them, so that the timed phase reads what it wrote.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, TryStreamExt, stream};
use proto::{
    common::Money,
    customer::{DepositBalanceRequest, RegisterRequest},
    product::{AddSkuRequest, CreateProductRequest, RestockSkuRequest},
};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{
    LoadConfig, LoadError,
    error::Failure,
    rng::Rng,
    shop::{Shop, not_yet_consistent},
};

/// Setup commands in flight at once.
const SETUP_CONCURRENCY: usize = 8;
/// Stock of a scarce product (every fourth), so that sell-outs happen in a run.
const SCARCE_STOCK: u32 = 2;

/// A product of the run's catalogue (one SKU).
#[derive(Debug, Clone)]
pub struct Item {
    /// The product.
    pub product: Uuid,
    /// Its SKU.
    pub sku: Uuid,
}

/// What a virtual customer knows of their cart, from the replies they got.
#[derive(Debug, Clone, Default)]
pub struct CartKnowledge {
    /// The cart's version in the last cart command's reply (its consistency token); `None`
    /// when unknown (never written, or a checkout said it changed).
    pub version: Option<u64>,
    /// Items added since the last acknowledged checkout.
    pub items: u32,
    /// Their last purchase was cancelled: the next checkout empties the cart first.
    pub clear_first: bool,
    /// `next_cursor` of the last catalogue page browsed.
    pub cursor: Option<String>,
}

/// A virtual customer.
#[derive(Debug)]
pub struct Customer {
    /// Their id, also their token's subject.
    pub id: Uuid,
    /// Their bearer token.
    pub token: String,
    /// What they know of their cart.
    pub cart: Mutex<CartKnowledge>,
}

impl Customer {
    /// What they know of their cart now.
    pub fn knowledge(&self) -> std::sync::MutexGuard<'_, CartKnowledge> {
        self.cart
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".to_owned(),
    }
}

fn failed(step: String) -> impl FnOnce(Failure) -> LoadError {
    move |failure| LoadError::Setup { step, failure }
}

/// Creates `config.products` products and `config.users` customers and waits until the read
/// models show them all.
pub async fn setup(
    shop: &Shop,
    config: &LoadConfig,
) -> Result<(Vec<Item>, Vec<Arc<Customer>>), LoadError> {
    let deadline = Instant::now() + config.setup_timeout;
    let admin = shop.admin_token();
    let mut rng = Rng::new(config.seed, u64::MAX);
    let prices: Vec<i64> = (0..config.products)
        .map(|_| 100 + i64::try_from(rng.below(4_901)).unwrap_or(0))
        .collect();
    let items: Vec<Item> = stream::iter(prices.into_iter().enumerate())
        .map(|(index, price)| {
            let stock = if index % 4 == 3 {
                SCARCE_STOCK
            } else {
                config.stock
            };
            product(shop, &admin, index, price, stock, deadline)
        })
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    let customers: Vec<Arc<Customer>> = stream::iter(0..config.users)
        .map(|_| customer(shop, config.balance, deadline))
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    Ok((items, customers))
}

async fn product(
    shop: &Shop,
    admin: &str,
    index: usize,
    price: i64,
    stock: u32,
    deadline: Instant,
) -> Result<Item, LoadError> {
    let (product, sku) = (Uuid::new_v4(), Uuid::new_v4());
    let step = |what: &str| format!("{what} product {product}");
    let id = Uuid::new_v4();
    let create = CreateProductRequest {
        command_id: id.to_string(),
        product_id: product.to_string(),
        title: format!("Load item {index:03}"),
        description: "created by the load generator".to_owned(),
    };
    let mut client = shop.products.clone();
    shop.send(
        "ProductCommands.CreateProduct",
        id,
        admin,
        create,
        |r| async move {
            client
                .create_product(r)
                .await
                .map(|a| a.into_inner().result)
        },
    )
    .await
    .map_err(failed(step("creating")))?;
    let id = Uuid::new_v4();
    let add = AddSkuRequest {
        command_id: id.to_string(),
        product_id: product.to_string(),
        sku_id: sku.to_string(),
        price: Some(eur(price)),
        attributes: [("size".to_owned(), "M".to_owned())].into_iter().collect(),
    };
    let mut client = shop.products.clone();
    shop.send("ProductCommands.AddSku", id, admin, add, |r| async move {
        client.add_sku(r).await.map(|a| a.into_inner().result)
    })
    .await
    .map_err(failed(step("adding a SKU to")))?;
    let id = Uuid::new_v4();
    let restock = RestockSkuRequest {
        command_id: id.to_string(),
        product_id: product.to_string(),
        sku_id: sku.to_string(),
        quantity: stock,
    };
    let mut client = shop.products.clone();
    let stocked = shop
        .send(
            "ProductCommands.RestockSku",
            id,
            admin,
            restock,
            |r| async move { client.restock_sku(r).await.map(|a| a.into_inner().result) },
        )
        .await
        .map_err(failed(step("restocking")))?;
    visible(
        shop,
        &format!("/products/{product}"),
        admin,
        &format!("{}@{}", stocked.stream_id, stocked.version),
        deadline,
    )
    .await
    .map_err(failed(step("waiting for the catalog to show")))?;
    Ok(Item { product, sku })
}

async fn customer(
    shop: &Shop,
    balance: i64,
    deadline: Instant,
) -> Result<Arc<Customer>, LoadError> {
    let me = Uuid::new_v4();
    let token = shop.customer_token(me);
    let step = |what: &str| format!("{what} customer {me}");
    let id = Uuid::new_v4();
    let register = RegisterRequest {
        command_id: id.to_string(),
        customer_id: me.to_string(),
        email: format!("load-{me}@example.com"),
        name: "Load Tester".to_owned(),
        currency: "EUR".to_owned(),
    };
    let mut client = shop.customers.clone();
    let mut last = shop
        .send(
            "CustomerCommands.Register",
            id,
            &token,
            register,
            |r| async move { client.register(r).await.map(|a| a.into_inner().result) },
        )
        .await
        .map_err(failed(step("registering")))?;
    if balance > 0 {
        let id = Uuid::new_v4();
        let deposit = DepositBalanceRequest {
            command_id: id.to_string(),
            customer_id: me.to_string(),
            amount: Some(eur(balance)),
        };
        let mut client = shop.customers.clone();
        last = shop
            .send(
                "CustomerCommands.DepositBalance",
                id,
                &token,
                deposit,
                |r| async move {
                    client
                        .deposit_balance(r)
                        .await
                        .map(|a| a.into_inner().result)
                },
            )
            .await
            .map_err(failed(step("depositing for")))?;
    }
    visible(
        shop,
        "/me",
        &token,
        &format!("{}@{}", last.stream_id, last.version),
        deadline,
    )
    .await
    .map_err(failed(step("waiting for the read model to show")))?;
    Ok(Arc::new(Customer {
        id: me,
        token,
        cart: Mutex::default(),
    }))
}

/// Reads `path` with consistency token `consistency` until it answers (the query service waits
/// up to its consistency wait for each read; `503 not_yet_consistent` asks again) or `deadline`.
async fn visible(
    shop: &Shop,
    path: &str,
    token: &str,
    consistency: &str,
    deadline: Instant,
) -> Result<(), Failure> {
    loop {
        match shop.get(path, token, Some(consistency)).await {
            Ok(_) => return Ok(()),
            Err(failure) if not_yet_consistent(&failure) && Instant::now() < deadline => {
                // The query service already waited before answering: ask again at once, but
                // not in a tight loop if it answered early.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(failure) => return Err(failure),
        }
    }
}
