//! Test support (feature `testing`): the whole system as real processes — the five command
//! services, the relay, the projection workers, the query services, the HTTP API, the payment
//! provider simulator and the checkout process manager — over a fresh database and topics,
//! consumer groups and Redis keys of their own; plus a customer's and an operator's moves, and
//! the truth read back from the log.

use std::{
    collections::BTreeMap,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::time::Instant;

use aggregates::{
    Aggregate, Checkout, Customer, Money, OrderId, Product, ProductId, SkuId,
    checkout::{CheckoutDetails, CheckoutState, Phase},
    customer::CustomerState,
    product::ProductState,
};
use auth::{AuthConfig, Claims, issue_token};
use event_store::{EventStore, StreamId, testing::TestDatabase};
use proto::{
    cart::{AddItemRequest, cart_commands_client::CartCommandsClient},
    common,
    customer::{
        DepositBalanceRequest, RegisterRequest, customer_commands_client::CustomerCommandsClient,
    },
    order::{CancelRequest, CheckoutRequest, order_commands_client::OrderCommandsClient},
    payment::PaymentMethod as WireMethod,
    product::{
        AddSkuRequest, CreateProductRequest, RestockSkuRequest,
        product_commands_client::ProductCommandsClient,
    },
};
use settings::ExposeSecret;
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use uuid::Uuid;

pub use aggregates::payment::PaymentMethod;
pub use event_store::testing::{poll_until, wait_until};

/// A role of the stack: its name and the ports it listens on.
const COMMAND_SERVICES: [&str; 5] = ["customer", "product", "cart", "order", "payment"];
/// Every role of a stack, in the order [`Stack::start_on`] starts them (the process manager
/// last, once the services it drives are starting).
pub const ROLES: [&str; 11] = [
    "customer",
    "product",
    "cart",
    "order",
    "payment",
    "relay",
    "projections",
    "query",
    "http",
    "provider",
    "checkout",
];

/// The database role a process of the stack connects as (scripts/roles' last field), `none` for
/// those without a database.
fn database_role(role: &str) -> &str {
    match role {
        "http" | "provider" => "none",
        role => role,
    }
}

/// How a stack is configured.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// `checkout.deadline_secs`.
    pub deadline_secs: u64,
    /// `checkout.stuck_after_secs`.
    pub stuck_after_secs: u64,
    /// `payments.simulator_delay_ms`.
    pub provider_delay_ms: u64,
    /// Pool size of each process.
    pub max_connections: u32,
    /// Where each process's log goes (`<dir>/<topic prefix>-<role>.log`, appended across its
    /// restarts); `None`: the directory `STACK_LOGS` names, if set, else nowhere.
    pub log_dir: Option<PathBuf>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            deadline_secs: 900,
            stuck_after_secs: 60,
            provider_delay_ms: 50,
            max_connections: 4,
            log_dir: None,
        }
    }
}

/// A child process, SIGKILLed when dropped so a failing test leaves nothing running.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Every role of the system as a child process.
pub struct Stack {
    /// The test's database (the event log and every PostgreSQL table).
    pub db: TestDatabase,
    /// Ports by role: `customer` … `payment`, `query`, `http`, `provider`.
    pub ports: BTreeMap<&'static str, u16>,
    env: Vec<(String, String)>,
    processes: BTreeMap<&'static str, Process>,
    channels: BTreeMap<&'static str, Channel>,
    auth: AuthConfig,
    log_dir: Option<PathBuf>,
}

impl Stack {
    /// Starts every role and waits until each listening one accepts connections.
    pub async fn start(options: StackOptions) -> Self {
        Self::start_on(TestDatabase::create(4).await, options).await
    }

    /// As [`start`](Self::start), over `db` and the Redis and name server its settings name
    /// (e.g. servers of the test's own: `event_store::testing::infra::PrivateInfra`).
    pub async fn start_on(db: TestDatabase, options: StackOptions) -> Self {
        db.ensure_service_logins().await;
        let tag = &Uuid::new_v4().simple().to_string()[..10];
        let mut ports = BTreeMap::new();
        for role in COMMAND_SERVICES
            .into_iter()
            .chain(["query", "http", "provider"])
        {
            ports.insert(role, free_port());
        }
        let url = |role: &str| format!("http://127.0.0.1:{}", ports[role]);
        let settings = &db.settings;
        let mut env: Vec<(String, String)> = vec![
            (
                "APP_DATABASE__URL",
                settings.database.url.expose_secret().to_owned(),
            ),
            (
                "APP_DATABASE__MAX_CONNECTIONS",
                options.max_connections.to_string(),
            ),
            (
                "APP_REDIS__URL",
                settings.redis.url.expose_secret().to_owned(),
            ),
            (
                "APP_ROCKETMQ__NAME_SERVER",
                settings.rocketmq.name_server.clone(),
            ),
            ("APP_ROCKETMQ__TOPIC_PREFIX", format!("co{tag}")),
            ("APP_ROCKETMQ__QUEUES", "4".to_owned()),
            ("APP_RELAY__NAME", format!("co{tag}")),
            ("APP_RELAY__PRODUCER_GROUP", format!("co{tag}-relay")),
            ("APP_RELAY__METRICS_LISTEN", String::new()),
            ("APP_PROJECTIONS__GROUP_PREFIX", format!("co{tag}")),
            ("APP_PROJECTIONS__REDIS_PREFIX", format!("co{tag}")),
            ("APP_PROJECTIONS__METRICS_LISTEN", String::new()),
            ("APP_PROJECTIONS__REPLAY_METRICS_LISTEN", String::new()),
            ("APP_PROJECTIONS__RETRY_DELAY_MS", "50".to_owned()),
            ("APP_QUERY__METRICS_LISTEN", String::new()),
            ("APP_COMMAND__PRODUCT_ENDPOINT", url("product")),
            ("APP_HTTP__QUERY_ENDPOINT", url("query")),
            ("APP_CHECKOUT__CONSUMER_GROUP", format!("co{tag}-checkout")),
            (
                "APP_CHECKOUT__DEADLINE_SECS",
                options.deadline_secs.to_string(),
            ),
            ("APP_CHECKOUT__DEADLINE_POLL_MS", "200".to_owned()),
            ("APP_CHECKOUT__DEADLINE_CLAIM_SECS", "2".to_owned()),
            (
                "APP_CHECKOUT__STUCK_AFTER_SECS",
                options.stuck_after_secs.to_string(),
            ),
            ("APP_CHECKOUT__METRICS_LISTEN", String::new()),
            ("APP_PAYMENTS__PROVIDER_URL", url("provider")),
            ("APP_PAYMENTS__PAYMENT_ENDPOINT", url("payment")),
            (
                "APP_PAYMENTS__SIMULATOR_WEBHOOK_URL",
                format!("{}/api/v1/webhooks/payments", url("http")),
            ),
            (
                "APP_PAYMENTS__SIMULATOR_DELAY_MS",
                options.provider_delay_ms.to_string(),
            ),
            // Warnings, plus the consumers' and the relay's lifecycle and the RocketMQ client's
            // queue assignments: when each role began to work, in a failed test's logs.
            (
                "RUST_LOG",
                "warn,checkout=info,relay=info,projections=info,\
                 rocketmq_client_rust::consumer::consumer_impl::re_balance=info"
                    .to_owned(),
            ),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        for service in COMMAND_SERVICES {
            env.push((
                format!("APP_CHECKOUT__{}_ENDPOINT", service.to_uppercase()),
                url(service),
            ));
        }
        let mut stack = Self {
            auth: settings.auth.clone(),
            db,
            ports,
            env,
            processes: BTreeMap::new(),
            channels: BTreeMap::new(),
            log_dir: options
                .log_dir
                .or_else(|| std::env::var_os("STACK_LOGS").map(PathBuf::from)),
        };
        for role in ROLES {
            stack.spawn(role);
        }
        for (role, port) in stack.ports.clone() {
            wait_until(
                Instant::now() + Duration::from_secs(60),
                &format!("{role} listening on {port}"),
                || async move { std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() },
            )
            .await;
        }
        for service in COMMAND_SERVICES {
            let channel = Endpoint::from_shared(url_of(stack.ports[service]))
                .expect("a valid URI")
                .connect_lazy();
            stack.channels.insert(service, channel);
        }
        stack
    }

    /// Starts `role` (again).
    pub fn spawn(&mut self, role: &'static str) {
        let (binary, args): (&str, Vec<String>) = match role {
            "relay" => ("commerce-relay", vec![]),
            "projections" => ("commerce-projections", vec!["run".into()]),
            "checkout" => ("commerce-checkout", vec!["run".into()]),
            "query" => ("commerce-query", self.listen("query")),
            "http" => ("commerce-http", self.listen("http")),
            "provider" => ("commerce-payment-provider", self.listen("provider")),
            service => ("commerce-command", {
                let mut args = vec![service.to_owned()];
                args.extend(self.listen(service));
                args
            }),
        };
        let child = Command::new(binary_path(binary))
            .args(&args)
            .envs(self.env.iter().cloned())
            .env("APP_DATABASE__URL", self.login_url(database_role(role)))
            .env("APP_DATABASE__APPLICATION_NAME", format!("test-{role}"))
            // The same name across restarts: a restarted consumer takes its queues back at once.
            .env(
                "APP_ROCKETMQ__INSTANCE_NAME",
                format!("{}-{role}", self.topic_prefix()),
            )
            .stdout(self.log_of(role))
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("{binary} starts: {error}"));
        self.processes.insert(role, Process(child));
    }

    /// Where `role`'s log (its stdout) is kept, if anywhere ([`StackOptions::log_dir`]): to see
    /// what a process did in a failed test.
    pub fn log_path(&self, role: &str) -> Option<PathBuf> {
        let dir = self.log_dir.as_ref()?;
        Some(dir.join(format!("{}-{role}.log", self.topic_prefix())))
    }

    fn log_of(&self, role: &str) -> Stdio {
        self.log_path(role)
            .and_then(|path| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .ok()
            })
            .map_or_else(Stdio::null, Stdio::from)
    }

    /// The URL of this stack's database as `role`'s login (`docs/database-roles.md`; its password
    /// comes from `PGPASSFILE`, which scripts/setup writes). `none`: a login that does not exist,
    /// for the processes that have no business with the database.
    pub fn login_url(&self, role: &str) -> String {
        event_store::roles::login_url(self.db.settings.database.url.expose_secret(), role)
    }

    /// SIGKILLs `role`: no shutdown hook runs.
    pub fn kill(&mut self, role: &'static str) {
        self.processes.remove(role);
    }

    fn listen(&self, role: &str) -> Vec<String> {
        vec!["--listen".into(), format!("127.0.0.1:{}", self.ports[role])]
    }

    /// The HTTP API's base URL.
    pub fn http_url(&self) -> String {
        url_of(self.ports["http"])
    }

    /// The provider simulator's base URL.
    pub fn provider_url(&self) -> String {
        url_of(self.ports["provider"])
    }

    /// The event log.
    pub fn store(&self) -> EventStore {
        self.db.store()
    }

    /// A bearer token of `subject` with `roles`, signed like the stack's.
    pub fn token(&self, subject: &str, roles: &[&str]) -> String {
        issue_token(
            &self.auth,
            &Claims::new(subject, roles, &self.auth.issuer, Duration::from_secs(3600)),
        )
    }

    fn authed<T>(&self, message: T, subject: &str, role: &str) -> Request<T> {
        let mut request = Request::new(message);
        let value = MetadataValue::try_from(format!("Bearer {}", self.token(subject, &[role])))
            .expect("a token is ASCII");
        request.metadata_mut().insert("authorization", value);
        request
    }

    /// Registers customer `customer` with `balance` minor units of EUR on their balance.
    pub async fn customer(&self, customer: Uuid, balance: i64) {
        let mut client = CustomerCommandsClient::new(self.channels["customer"].clone());
        let me = customer.to_string();
        client
            .register(self.authed(
                RegisterRequest {
                    command_id: Uuid::new_v4().to_string(),
                    customer_id: me.clone(),
                    email: format!("{me}@example.com"),
                    name: "Ada".into(),
                    currency: "EUR".into(),
                },
                &me,
                "customer",
            ))
            .await
            .expect("register");
        if balance > 0 {
            client
                .deposit_balance(self.authed(
                    DepositBalanceRequest {
                        command_id: Uuid::new_v4().to_string(),
                        customer_id: me.clone(),
                        amount: Some(eur(balance)),
                    },
                    &me,
                    "customer",
                ))
                .await
                .expect("deposit");
        }
    }

    /// A product with one SKU at `price` with `stock` items, created by an admin.
    pub async fn product(&self, price: i64, stock: u32) -> (ProductId, SkuId) {
        let mut client = ProductCommandsClient::new(self.channels["product"].clone());
        let (product, sku) = (Uuid::new_v4(), Uuid::new_v4());
        client
            .create_product(self.authed(
                CreateProductRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product.to_string(),
                    title: "Tent".into(),
                    ..Default::default()
                },
                "operator",
                "admin",
            ))
            .await
            .expect("create product");
        client
            .add_sku(self.authed(
                AddSkuRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    price: Some(eur(price)),
                    ..Default::default()
                },
                "operator",
                "admin",
            ))
            .await
            .expect("add sku");
        client
            .restock_sku(self.authed(
                RestockSkuRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    quantity: stock,
                },
                "operator",
                "admin",
            ))
            .await
            .expect("restock");
        (ProductId(product), SkuId(sku))
    }

    /// Puts `quantity` of `sku` in `customer`'s cart; returns the cart's version.
    pub async fn add_to_cart(
        &self,
        customer: Uuid,
        product: ProductId,
        sku: SkuId,
        quantity: u32,
    ) -> u64 {
        let mut client = CartCommandsClient::new(self.channels["cart"].clone());
        let me = customer.to_string();
        let response = client
            .add_item(self.authed(
                AddItemRequest {
                    command_id: Uuid::new_v4().to_string(),
                    customer_id: me.clone(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    quantity,
                },
                &me,
                "customer",
            ))
            .await
            .expect("add to cart");
        response.into_inner().result.expect("a result").version
    }

    /// `customer` buys their cart as order `order` (as the customer would).
    pub async fn checkout(
        &self,
        customer: Uuid,
        order: OrderId,
        method: PaymentMethod,
        cart_version: Option<u64>,
    ) -> Result<common::CommandResult, Status> {
        let mut client = OrderCommandsClient::new(self.channels["order"].clone());
        let me = customer.to_string();
        let method = match method {
            PaymentMethod::Balance => WireMethod::Balance,
            PaymentMethod::External => WireMethod::External,
        };
        let response = client
            .checkout(self.authed(
                CheckoutRequest {
                    command_id: Uuid::new_v4().to_string(),
                    order_id: order.to_string(),
                    customer_id: me.clone(),
                    expected_cart_version: cart_version,
                    payment_method: method.into(),
                },
                &me,
                "customer",
            ))
            .await?;
        Ok(response.into_inner().result.expect("a result"))
    }

    /// `customer` cancels their order `order`.
    pub async fn cancel(&self, customer: Uuid, order: OrderId) -> Result<(), Status> {
        let mut client = OrderCommandsClient::new(self.channels["order"].clone());
        let me = customer.to_string();
        client
            .cancel(self.authed(
                CancelRequest {
                    command_id: Uuid::new_v4().to_string(),
                    order_id: order.to_string(),
                    reason: "changed my mind".into(),
                },
                &me,
                "customer",
            ))
            .await
            .map(drop)
    }

    /// Checkout `order` as recorded in its stream, if started.
    pub async fn checkout_state(&self, order: OrderId) -> Option<CheckoutDetails> {
        match fold::<Checkout>(&self.store(), &order).await {
            CheckoutState::Started(details) => Some(details),
            CheckoutState::NotStarted => None,
        }
    }

    /// Waits until checkout `order` is completed or final and returns it.
    pub async fn settled(&self, order: OrderId, within: Duration) -> CheckoutDetails {
        self.waited(order, within, |phase| {
            phase.is_final() || *phase == Phase::Completed
        })
        .await
        .unwrap_or_else(|| panic!("checkout {order} did not settle within {within:?}"))
    }

    /// Waits until checkout `order` is in `phase`; `None` if it is not within `within`.
    pub async fn reaches(
        &self,
        order: OrderId,
        phase: &Phase,
        within: Duration,
    ) -> Option<CheckoutDetails> {
        self.waited(order, within, |now| now == phase).await
    }

    /// Checkout `order` once its phase passes `done`, polled until `within`.
    async fn waited(
        &self,
        order: OrderId,
        within: Duration,
        done: impl Fn(&Phase) -> bool,
    ) -> Option<CheckoutDetails> {
        let done = &done;
        poll_until(Instant::now() + within, || async move {
            self.checkout_state(order).await.filter(|c| done(&c.phase))
        })
        .await
    }

    /// `(on hand, reserved)` of `sku` of `product`, from its stream.
    pub async fn stock(&self, product: ProductId, sku: SkuId) -> (u32, u32) {
        match fold::<Product>(&self.store(), &product).await {
            ProductState::Created(details) => {
                let sku = &details.skus[&sku];
                (sku.on_hand, sku.reserved)
            }
            ProductState::NotCreated => panic!("no product {product}"),
        }
    }

    /// `customer`'s balance, from their stream.
    pub async fn balance(&self, customer: Uuid) -> Money {
        match fold::<Customer>(&self.store(), &customer.into()).await {
            CustomerState::Registered(account) => account.balance,
            CustomerState::Unregistered => panic!("no customer {customer}"),
        }
    }

    /// Runs the operator's `commerce-projections <args>` (`replay`, `verify`, `generations` …)
    /// against this stack, with its settings plus `extra` variables (e.g.
    /// `APP_PROJECTIONS__REPLAY_PAGE`), and waits for it to exit.
    pub fn projections_cli(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
        Command::new(binary_path("commerce-projections"))
            .args(args)
            .envs(self.env.iter().cloned())
            .envs(extra.iter().copied())
            .env("APP_DATABASE__URL", self.login_url("projections"))
            .env("APP_DATABASE__APPLICATION_NAME", "test-operator")
            .output()
            .expect("commerce-projections runs")
    }

    /// The read models whose live generation has not yet applied every stream of its categories
    /// up to the log's end, each with its first lagging stream; empty when all caught up. (A
    /// `verify` of a model that lags reports the lag as differences.)
    pub async fn lagging_read_models(&self) -> Vec<String> {
        use projections::{Projection, runtime::live_redis_keys};
        let pool = &self.db.pool;
        let log: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT category, stream_id, max(stream_version) FROM events \
             GROUP BY category, stream_id ORDER BY stream_id",
        )
        .fetch_all(pool)
        .await
        .expect("read the log");
        let client =
            redis::Client::open(self.db.settings.redis.url.expose_secret()).expect("redis url");
        let mut redis = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers");
        let prefix = self.setting("APP_PROJECTIONS__REDIS_PREFIX");
        let mut lagging = Vec::new();
        for projection in projections::read_models::all() {
            let name = projection.name();
            let markers: BTreeMap<String, i64> = match projection {
                Projection::Postgres(_) => sqlx::query_as::<_, (String, i64)>(
                    "SELECT stream_id, version FROM projection_versions \
                     WHERE projection = $1 AND generation = coalesce((SELECT generation \
                       FROM read_model_generations WHERE projection = $1 AND status = 'live'), 0)",
                )
                .bind(name)
                .fetch_all(pool)
                .await
                .expect("read the markers")
                .into_iter()
                .collect(),
                Projection::Redis(_) => {
                    let keys = live_redis_keys(&mut redis, &prefix, name)
                        .await
                        .expect("read the epoch");
                    redis::cmd("HGETALL")
                        .arg(keys.key("versions"))
                        .query_async(&mut redis)
                        .await
                        .expect("read the markers")
                }
            };
            let behind = log.iter().find(|(category, stream, version)| {
                projection.categories().contains(&category.as_str())
                    && markers.get(stream) != Some(version)
            });
            if let Some((_, stream, version)) = behind {
                lagging.push(format!(
                    "{name}: {stream} at {:?}, the log at {version}",
                    markers.get(stream)
                ));
            }
        }
        lagging
    }

    /// The RocketMQ name server of this stack.
    pub fn name_server(&self) -> String {
        self.setting("APP_ROCKETMQ__NAME_SERVER")
    }

    /// The RocketMQ topic prefix of this stack.
    pub fn topic_prefix(&self) -> String {
        self.setting("APP_ROCKETMQ__TOPIC_PREFIX")
    }

    fn setting(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }

    /// Whether every read model the workers built equals a fresh rebuild from the log (into a
    /// scratch database and Redis prefix); the first difference otherwise.
    pub async fn read_models_equal_rebuild(&self) -> Result<(), String> {
        use projections::runtime::{ProjectionMetrics, ProjectionRuntime, RetryPolicy};
        let settings = &self.db.settings;
        let runtime = |pool, prefix: String| async move {
            let client =
                redis::Client::open(settings.redis.url.expose_secret()).expect("redis url");
            let redis = redis::aio::ConnectionManager::new(client)
                .await
                .expect("redis answers");
            let metrics = ProjectionMetrics::register(&mut server::Registry::default());
            ProjectionRuntime::new(
                pool,
                self.store(),
                redis,
                prefix,
                RetryPolicy::from_settings(&settings.projections),
                metrics,
            )
        };
        let live_prefix = self.setting("APP_PROJECTIONS__REDIS_PREFIX");
        let live = runtime(self.db.pool.clone(), live_prefix.clone()).await;
        let scratch = TestDatabase::create(4).await;
        let scratch_prefix = format!("{live_prefix}rebuilt");
        let rebuilt = runtime(scratch.pool.clone(), scratch_prefix.clone()).await;
        for projection in projections::read_models::all() {
            rebuilt
                .rebuild(&projection)
                .await
                .map_err(|error| error.to_string())?;
            let fresh = rebuilt
                .snapshot(&projection)
                .await
                .map_err(|error| error.to_string())?
                .to_string()
                .replace(&scratch_prefix, "<prefix>");
            let converged = live
                .snapshot(&projection)
                .await
                .map_err(|error| error.to_string())?
                .to_string()
                .replace(&live_prefix, "<prefix>");
            if fresh != converged {
                return Err(format!(
                    "read model {} differs from a rebuild:\n live:    {converged}\n rebuilt: {fresh}",
                    projection.name()
                ));
            }
        }
        Ok(())
    }

    /// How many events of type `event_type` stream `stream` holds.
    pub async fn count_events(&self, stream: &str, event_type: &str) -> usize {
        let stream = StreamId::parse(stream).expect("a stream id");
        self.store()
            .read_stream_to_end(&stream)
            .await
            .expect("read the stream")
            .iter()
            .filter(|event| event.event_type == event_type)
            .count()
    }
}

/// Aggregate `id`'s state folded from its stream.
pub async fn fold<A>(store: &EventStore, id: &A::Id) -> A::State
where
    A: Aggregate,
{
    let stream = StreamId::parse(A::stream_id(id)).expect("a stream id");
    let events = store
        .read_stream_to_end(&stream)
        .await
        .expect("read the stream");
    let decoded: Vec<A::Event> = events
        .iter()
        .map(|event| {
            aggregates::DomainEvent::from_stored(
                &event.event_type,
                event.schema_version,
                &event.data,
            )
            .expect("events decode")
        })
        .collect();
    A::fold(&decoded)
}

/// EUR in minor units, as the wire carries it.
pub fn eur(amount_minor: i64) -> common::Money {
    common::Money {
        amount_minor,
        currency: "EUR".to_owned(),
    }
}

fn url_of(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A binary of the workspace, beside this crate's (`cargo nextest run --workspace` and
/// `cargo build` build them all).
fn binary_path(name: &str) -> PathBuf {
    // A test or bench binary lives in target/<profile>/deps; the workspace's binaries one up.
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .filter(|dir| dir.ends_with("deps"))
        .and_then(std::path::Path::parent)
        .or_else(|| exe.parent())
        .expect("a target folder");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}
