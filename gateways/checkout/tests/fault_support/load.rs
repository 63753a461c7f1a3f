//! The load that runs while a fault is injected: the load generator (`loadgen::run`, the
//! storefront mix of virtual customers over gRPC and HTTP, open loop), and beside it the
//! harness's own clients, whose answers are checked for completeness: buyers putting an item in
//! their cart, buying it and waiting for the purchase as a customer does, and readers of the
//! catalog and of those buyers' orders. Every command the shop acknowledged is written down (its
//! events must be in the log), every error is counted by kind, and every read of the harness's
//! readers is checked: the catalog never shows fewer products than were created before the load,
//! a buyer's orders never fewer than an earlier answer showed.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use aggregates::{ProductId, SkuId};
use checkout::testing::Stack;
use proto::{
    cart::{AddItemRequest, cart_commands_client::CartCommandsClient},
    common::CommandResult,
    order::{CheckoutRequest, order_commands_client::OrderCommandsClient},
    payment::PaymentMethod,
};
use serde_json::Value;
use tokio::{sync::watch, task::JoinHandle};
use tonic::{
    Code, Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use uuid::Uuid;

/// Deadline of each request: longer than a pool's acquire timeout, so a database outage answers
/// with the service's own error rather than the client's impatience.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two moves of one of the harness's clients: pacing, so the roles under test keep
/// the CPU.
const PACE: Duration = Duration::from_millis(100);

/// Longest a buyer of the harness waits for its purchase before buying again: a customer's
/// patience (the load generator's is the same), shorter than any fault's recovery bound.
const SETTLE_WAIT: Duration = Duration::from_secs(30);

pub use loadgen::Acknowledged;

/// Flows per second the load generator starts (open loop): about one purchase a second with the
/// storefront mix, and little enough CPU that the roles under test keep theirs.
const RATE: f64 = 25.0;

/// What the load did and saw.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Every acknowledged command, in the order the answers arrived.
    pub acknowledged: Vec<Acknowledged>,
    /// Errors by kind (`grpc UNAVAILABLE`, `http 503`, `http connect` …), each with the first
    /// one's detail.
    pub errors: BTreeMap<String, (u64, String)>,
    /// Wrong answers: a read that showed less than must be there. One line each.
    pub wrong: Vec<String>,
}

impl LoadOutcome {
    fn error(&mut self, kind: String, detail: impl FnOnce() -> String) {
        self.errors.entry(kind).or_insert_with(|| (0, detail())).0 += 1;
    }

    fn merge(&mut self, other: Self) {
        self.acknowledged.extend(other.acknowledged);
        for (kind, (count, detail)) in other.errors {
            self.errors.entry(kind).or_insert((0, detail)).0 += count;
        }
        self.wrong.extend(other.wrong);
    }
}

/// The shop the load runs against: its endpoints, and the catalog and customers of the
/// harness's clients (created before).
#[derive(Clone)]
pub struct Shop {
    loadgen: loadgen::LoadConfig,
    cart: Channel,
    order: Channel,
    http: String,
    admin: String,
    /// `(customer, bearer token)`.
    customers: Vec<(Uuid, String)>,
    catalog: Vec<(ProductId, SkuId)>,
}

impl Shop {
    /// Clients of `stack`'s APIs for `customers` buying from `catalog`.
    pub fn new(stack: &Stack, customers: &[Uuid], catalog: &[(ProductId, SkuId)]) -> Self {
        let channel = |role: &str| {
            Endpoint::from_shared(format!("http://127.0.0.1:{}", stack.ports[role]))
                .expect("a valid URI")
                .connect_timeout(REQUEST_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .connect_lazy()
        };
        let mut loadgen = loadgen::LoadConfig::for_endpoints(
            loadgen::Endpoints::loopback(&stack.ports).expect("the stack's ports"),
            stack.db.settings.auth.clone(),
        );
        loadgen.users = 3;
        loadgen.products = 4;
        loadgen.rate = Some(RATE);
        loadgen.duration = None;
        loadgen.balance = 1_000_000_000;
        loadgen.stock = 1_000_000;
        loadgen.drain = REQUEST_TIMEOUT;
        loadgen.request_timeout = REQUEST_TIMEOUT;
        // Kinds the harness judges per fault itself.
        loadgen.tolerate = loadgen::ErrorKind::during_faults();
        Self {
            loadgen,
            cart: channel("cart"),
            order: channel("order"),
            http: stack.http_url(),
            admin: stack.token("operator", &["admin"]),
            customers: customers
                .iter()
                .map(|customer| (*customer, stack.token(&customer.to_string(), &["customer"])))
                .collect(),
            catalog: catalog.to_vec(),
        }
    }
}

/// A load running until [`stop`](Self::stop).
pub struct Load {
    stop: watch::Sender<bool>,
    generator: JoinHandle<Result<loadgen::Report, loadgen::LoadError>>,
    tasks: Vec<JoinHandle<LoadOutcome>>,
}

impl Load {
    /// Starts the load generator (its setup — customers and products of its own — first), one
    /// buyer per customer of the harness and two readers.
    pub fn start(shop: &Shop) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut until_stopped = stopped.clone();
        let generator = tokio::spawn(loadgen::run(shop.loadgen.clone(), async move {
            let _ = until_stopped.wait_for(|stopped| *stopped).await;
        }));
        let mut tasks = Vec::new();
        for n in 0..shop.customers.len() {
            tasks.push(tokio::spawn(buy(shop.clone(), n, stopped.clone())));
        }
        let floors = Arc::new(Mutex::new(vec![0; shop.customers.len()]));
        for _ in 0..2 {
            tasks.push(tokio::spawn(read(
                shop.clone(),
                Arc::clone(&floors),
                stopped.clone(),
            )));
        }
        Self {
            stop,
            generator,
            tasks,
        }
    }

    /// Stops the clients (a move under way finishes) and returns what they saw.
    pub async fn stop(self) -> LoadOutcome {
        self.stop.send_replace(true);
        let report = self
            .generator
            .await
            .expect("the load generator's task")
            .expect("the load generator's setup");
        let mut outcome = LoadOutcome {
            acknowledged: report.acknowledged,
            ..LoadOutcome::default()
        };
        for error in report.errors {
            let detail = format!("{}: {}", error.flow.name(), error.reason);
            let kind = match error.kind {
                loadgen::ErrorKind::Grpc(code) => grpc_kind(Code::from_i32(code), &error.reason),
                other => other.to_string(),
            };
            outcome.errors.entry(kind).or_insert((0, detail)).0 += error.count;
        }
        for task in self.tasks {
            outcome.merge(task.await.expect("a load task"));
        }
        outcome
    }
}

fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}")).expect("a token is ASCII");
    request.metadata_mut().insert("authorization", value);
    request
}

/// Records the answer to `command`: acknowledged, or an error of kind `grpc <CODE>`.
fn answered(
    outcome: &mut LoadOutcome,
    command: &'static str,
    command_id: Uuid,
    answer: Result<Option<CommandResult>, Status>,
) -> bool {
    match answer {
        Ok(Some(result)) => {
            outcome.acknowledged.push(Acknowledged {
                command,
                command_id,
                stream_id: result.stream_id,
                version: result.version,
                position: result.position,
            });
            true
        }
        Ok(None) => {
            outcome
                .wrong
                .push(format!("{command} {command_id}: OK without a result"));
            false
        }
        // A business refusal a healthy shop gives too: the process manager cleared the cart
        // (a purchase completed) between this buyer's AddItem and its Checkout.
        Err(status)
            if status.code() == Code::FailedPrecondition
                && status.message().contains("cart is empty") =>
        {
            false
        }
        Err(status) => {
            let kind = grpc_kind(status.code(), status.message());
            outcome.error(kind, || {
                format!("{command} {command_id}: {}", status.message())
            });
            false
        }
    }
}

/// Customer `n` adds an item and buys their cart, again and again, until `stopped`.
async fn buy(shop: Shop, n: usize, mut stopped: watch::Receiver<bool>) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let mut carts = CartCommandsClient::new(shop.cart.clone());
    let mut orders = OrderCommandsClient::new(shop.order.clone());
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let (customer, token) = &shop.customers[n];
    let mut round = 0;
    while !*stopped.borrow() {
        let (product, sku) = shop.catalog[(n + round) % shop.catalog.len()];
        round += 1;
        let command_id = Uuid::new_v4();
        let added = carts
            .add_item(authed(
                AddItemRequest {
                    command_id: command_id.to_string(),
                    customer_id: customer.to_string(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    quantity: 1,
                },
                token,
            ))
            .await
            .map(|response| response.into_inner().result);
        if answered(&mut outcome, "CartCommands.AddItem", command_id, added) {
            let (command_id, order) = (Uuid::new_v4(), Uuid::new_v4());
            let bought = orders
                .checkout(authed(
                    CheckoutRequest {
                        command_id: command_id.to_string(),
                        order_id: order.to_string(),
                        customer_id: customer.to_string(),
                        expected_cart_version: None,
                        payment_method: PaymentMethod::Balance.into(),
                    },
                    token,
                ))
                .await
                .map(|response| response.into_inner().result);
            if answered(&mut outcome, "OrderCommands.Checkout", command_id, bought) {
                settled(&http, &shop, order, token, &stopped).await;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PACE) => {}
            _ = stopped.changed() => {}
        }
    }
    outcome
}

/// Waits, as a customer does before buying again, until order `order`'s checkout is final or
/// completed ([`SETTLE_WAIT`] at most, or until the load stops). Otherwise a buyer orders again
/// every [`PACE`] while its purchases wait, each buying the whole uncleared cart again: a
/// backlog that grows the slower the machine is. Whether every purchase settles is checked
/// afterwards (`checks::settle`); errors while waiting are the readers' to judge.
async fn settled(
    http: &reqwest::Client,
    shop: &Shop,
    order: Uuid,
    token: &str,
    stopped: &watch::Receiver<bool>,
) {
    let url = format!("{}/api/v1/orders/{order}/checkout", shop.http);
    let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
    while !*stopped.borrow() && tokio::time::Instant::now() < deadline {
        if let Ok(checkout) = get(http, &url, token).await
            && matches!(
                checkout["status"].as_str(),
                Some("completed" | "cancelled" | "refunded")
            )
        {
            return;
        }
        tokio::time::sleep(PACE).await;
    }
}

/// One GET: the body of a 200, or the error's kind and detail.
async fn get(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, (String, String)> {
    let response = match http.get(url).bearer_auth(token).send().await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => return Err(("http timeout".into(), error.to_string())),
        Err(error) if error.is_connect() || error.is_request() => {
            return Err(("http connect".into(), error.to_string()));
        }
        Err(error) => return Err(("http broken".into(), error.to_string())),
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::OK {
        return Err((format!("http {}", status.as_u16()), body));
    }
    serde_json::from_str(&body).map_err(|error| ("http 200 unreadable".into(), error.to_string()))
}

/// Reads the catalog and every customer's orders until `stopped`, checking each answer against
/// what must be there: every product of the catalog, and at least as many orders as an earlier
/// answer showed (`floors`, shared by the readers).
async fn read(
    shop: Shop,
    floors: Arc<Mutex<Vec<usize>>>,
    mut stopped: watch::Receiver<bool>,
) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let products_url = format!("{}/api/v1/products?limit=100", shop.http);
    let orders_url = format!("{}/api/v1/orders?limit=100", shop.http);
    while !*stopped.borrow() {
        match get(&http, &products_url, &shop.admin).await {
            Ok(body) => {
                let shown = body["products"].as_array().map_or(0, Vec::len);
                if shown < shop.catalog.len() {
                    outcome.wrong.push(format!(
                        "GET /products: {shown} products of {}: {body}",
                        shop.catalog.len()
                    ));
                }
            }
            Err((kind, detail)) => outcome.error(kind, || format!("GET /products: {detail}")),
        }
        for (n, (_, token)) in shop.customers.iter().enumerate() {
            // What an answer must show at least: as much as any answer that arrived before this
            // request left (a later one may know more; an earlier one, still in flight, less).
            let floor = floors.lock().expect("floors")[n];
            match get(&http, &orders_url, token).await {
                Ok(body) => {
                    let shown = body["orders"].as_array().map_or(0, Vec::len);
                    {
                        let mut floors = floors.lock().expect("floors");
                        floors[n] = floors[n].max(shown);
                    }
                    if shown < floor {
                        outcome.wrong.push(format!(
                            "GET /orders of customer {n}: {shown} orders, {floor} shown before: \
                             {body}"
                        ));
                    }
                }
                Err((kind, detail)) => {
                    outcome.error(kind, || format!("GET /orders of customer {n}: {detail}"));
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PACE) => {}
            _ = stopped.changed() => {}
        }
    }
    outcome
}

/// The kind of a gRPC error with `code` and `message`: `grpc <CODE>`, except the client's own
/// report of a connection that broke under a request in flight (tonic's `UNKNOWN` "transport
/// error" or `CANCELLED` "operation was canceled" when the server process is killed mid-call),
/// which is `grpc connection broken`.
fn grpc_kind(code: Code, message: &str) -> String {
    let broken = (code == Code::Unknown && message.contains("transport error"))
        || (code == Code::Cancelled && message.contains("operation was canceled"));
    if broken {
        return "grpc connection broken".into();
    }
    format!("grpc {}", code_name(code))
}

/// The protobuf name of a gRPC code (`UNAVAILABLE`), as the documentation spells it.
fn code_name(code: Code) -> String {
    format!("{code:?}")
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let gap = (i > 0 && c.is_uppercase()).then_some('_');
            gap.into_iter().chain(c.to_uppercase())
        })
        .collect()
}
