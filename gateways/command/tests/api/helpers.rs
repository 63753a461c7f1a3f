//! `spawn_app`: starts the real server over a fresh database; more servers of other contexts
//! over the same database (the cart beside its product service); tokens and request builders.
//! The servers themselves, tokens and `eur` come from `command::testing` and `auth::testing`,
//! which other crates' end-to-end tests share.

pub use auth::testing::authed;
pub use command::testing::{Server, eur};
use command::{
    AuthConfig, CommandConfig, ServiceKind,
    auth::{ROLE_ADMIN, ROLE_CUSTOMER, ROLE_SERVICE},
};
use event_store::{EventStore, RecordedEvent, StreamId, testing::TestDatabase};
use proto::{
    cart::cart_commands_client::CartCommandsClient,
    common::CommandResult,
    customer::customer_commands_client::CustomerCommandsClient,
    order::order_commands_client::OrderCommandsClient,
    payment::payment_commands_client::PaymentCommandsClient,
    product::{
        product_commands_client::ProductCommandsClient, product_stock_client::ProductStockClient,
    },
};
use tonic::{Code, Status, transport::Channel};
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
    let server = Server::start(service, &db, adjust).await;
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
    let product = Server::start(ServiceKind::Product, &db, |_| {}).await;
    let endpoint = product.url();
    let server = Server::start(ServiceKind::Cart, &db, |config| {
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
                Server::start(self.kind, &self.db, |config| {
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

    /// A development-secret token for `sub` with `roles`.
    #[expect(
        clippy::unused_self,
        reason = "asked of the app under test, like admin() and customer(); every test app shares \
                  the development secret today"
    )]
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        auth::testing::token(sub, roles)
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

/// A fresh command id.
pub fn cid() -> String {
    Uuid::new_v4().to_string()
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
