//! `spawn_app`: starts the real server over a fresh database; more servers of other contexts
//! over the same database (the cart beside its product service); tokens and request builders.

use std::{net::SocketAddr, time::Duration};

use command::{
    App, AuthConfig, CommandConfig, DependencyConfig, ServiceKind,
    auth::{Claims, ROLE_ADMIN, ROLE_CUSTOMER, ROLE_SERVICE, issue_token},
};
use event_store::{EventStore, RecordedEvent, StreamId, testing::TestDatabase};
use proto::{
    cart::cart_commands_client::CartCommandsClient,
    common::{CommandResult, Money},
    customer::customer_commands_client::CustomerCommandsClient,
    order::order_commands_client::OrderCommandsClient,
    payment::payment_commands_client::PaymentCommandsClient,
    product::{
        product_commands_client::ProductCommandsClient, product_stock_client::ProductStockClient,
    },
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{Code, Request, Status, transport::Channel};
use uuid::Uuid;

/// A running command service and what a test needs to talk to it.
pub struct TestApp {
    pub db: TestDatabase,
    pub store: EventStore,
    pub auth: AuthConfig,
    pub channel: Channel,
    /// The app's own server; stopped when the test app is dropped.
    pub _server: Server,
    /// For a cart app: the product service it asks, over the same database.
    pub product: Option<Server>,
    /// The service the app runs (and its replicas run, see [`TestApp::replicas`]).
    pub kind: ServiceKind,
}

/// One server of the test: its address and a client channel to it.
pub struct Server {
    pub address: SocketAddr,
    pub channel: Channel,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Server {
    /// `http://<address>`, as a dependency endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the server and waits until it no longer serves.
    pub async fn stop(self) {
        let Self {
            channel,
            stop,
            task,
            ..
        } = self;
        drop(channel);
        stop.send(()).ok();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task does not panic")
            .expect("the server shuts down cleanly");
    }
}

/// The configuration of `service` over `db` on a free port, with the development secret.
pub fn test_config(service: ServiceKind, db: &TestDatabase) -> CommandConfig {
    CommandConfig {
        service,
        listen: "127.0.0.1:0".parse().unwrap(),
        settings: db.settings.clone(),
        auth: AuthConfig::development(),
        max_request_bytes: 64 * 1024,
        max_attempts: 5,
        dependencies: DependencyConfig::default(),
    }
}

/// Starts `service` over `db` (configured by `adjust`) and connects a channel to it.
pub async fn start_server(
    service: ServiceKind,
    db: &TestDatabase,
    adjust: impl FnOnce(&mut CommandConfig),
) -> Server {
    let mut config = test_config(service, db);
    adjust(&mut config);
    let app = App::build_with_store(config, db.store())
        .await
        .expect("app builds");
    let address = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        stopped.await.ok();
    }));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("client connects");
    Server {
        address,
        channel,
        stop,
        task,
    }
}

/// Starts `service` on a free port over a new database.
pub async fn spawn_app(service: ServiceKind) -> TestApp {
    spawn_app_with(service, |_| {}).await
}

/// As [`spawn_app`], with the configuration adjusted by `adjust` first.
pub async fn spawn_app_with(
    service: ServiceKind,
    adjust: impl FnOnce(&mut CommandConfig),
) -> TestApp {
    let db = TestDatabase::create(10).await;
    let server = start_server(service, &db, adjust).await;
    TestApp {
        store: db.store(),
        auth: AuthConfig::development(),
        channel: server.channel.clone(),
        db,
        _server: server,
        product: None,
        kind: service,
    }
}

/// A cart service and the product service it asks, over one new database.
pub async fn spawn_cart() -> TestApp {
    spawn_cart_with(|_| {}).await
}

/// As [`spawn_cart`], with the cart's configuration adjusted by `adjust` first.
pub async fn spawn_cart_with(adjust: impl FnOnce(&mut CommandConfig)) -> TestApp {
    let db = TestDatabase::create(10).await;
    let product = start_server(ServiceKind::Product, &db, |_| {}).await;
    let endpoint = product.url();
    let server = start_server(ServiceKind::Cart, &db, |config| {
        config.dependencies.product_endpoint = endpoint;
        adjust(config);
    })
    .await;
    TestApp {
        store: db.store(),
        auth: AuthConfig::development(),
        channel: server.channel.clone(),
        db,
        _server: server,
        product: Some(product),
        kind: ServiceKind::Cart,
    }
}

/// The URL of a local port nothing listens on (bound, then released).
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

impl TestApp {
    /// The app's own channel and those of `more` further replicas of its service over the same
    /// database: servers that share nothing but the database (each has its own folds and
    /// per-stream locks), so commands sent to different channels really race, as across pods.
    /// Keep the returned servers alive while using their channels.
    pub async fn replicas(&self, more: usize) -> (Vec<Server>, Vec<Channel>) {
        let mut servers = Vec::with_capacity(more);
        for _ in 0..more {
            let product = self.product.as_ref().map(Server::url);
            servers.push(
                start_server(self.kind, &self.db, |config| {
                    if let Some(endpoint) = product {
                        config.dependencies.product_endpoint = endpoint;
                    }
                })
                .await,
            );
        }
        let channels = std::iter::once(self.channel.clone())
            .chain(servers.iter().map(|server| server.channel.clone()))
            .collect();
        (servers, channels)
    }

    pub fn customers(&self) -> CustomerCommandsClient<Channel> {
        CustomerCommandsClient::new(self.channel.clone())
    }

    /// The product service: this app itself, or the one beside a cart app.
    pub fn products(&self) -> ProductCommandsClient<Channel> {
        ProductCommandsClient::new(self.product_channel())
    }

    pub fn stock(&self) -> ProductStockClient<Channel> {
        ProductStockClient::new(self.product_channel())
    }

    pub fn carts(&self) -> CartCommandsClient<Channel> {
        CartCommandsClient::new(self.channel.clone())
    }

    pub fn orders(&self) -> OrderCommandsClient<Channel> {
        OrderCommandsClient::new(self.channel.clone())
    }

    pub fn payments(&self) -> PaymentCommandsClient<Channel> {
        PaymentCommandsClient::new(self.channel.clone())
    }

    fn product_channel(&self) -> Channel {
        self.product
            .as_ref()
            .map_or_else(|| self.channel.clone(), |product| product.channel.clone())
    }

    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        issue_token(
            &self.auth,
            &Claims::new(sub, roles, &self.auth.issuer, Duration::from_secs(300)),
        )
    }

    pub fn admin(&self) -> String {
        self.token("alice", &[ROLE_ADMIN])
    }

    pub fn service(&self) -> String {
        self.token("order-service", &[ROLE_SERVICE])
    }

    pub fn customer(&self, id: Uuid) -> String {
        self.token(&id.to_string(), &[ROLE_CUSTOMER])
    }

    /// Every event of `stream`.
    pub async fn events(&self, stream: &str) -> Vec<RecordedEvent> {
        self.store
            .read_stream_to_end(&StreamId::parse(stream).unwrap())
            .await
            .unwrap()
    }

    /// The event types of `stream`, in order.
    pub async fn event_types(&self, stream: &str) -> Vec<String> {
        self.events(stream)
            .await
            .into_iter()
            .map(|event| event.event_type)
            .collect()
    }
}

/// `message` with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A fresh command id.
pub fn cid() -> String {
    Uuid::new_v4().to_string()
}

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".into(),
    })
}

/// Asserts `result` failed with `code`, and returns the status.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The command result a response carries.
#[track_caller]
pub fn result_of(result: Option<CommandResult>) -> CommandResult {
    result.expect("every response carries a command result")
}
