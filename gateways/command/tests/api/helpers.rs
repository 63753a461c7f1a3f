//! `spawn_app`: starts the real server over a fresh database; tokens and request builders.

use std::time::Duration;

use command_service::{
    App, AuthConfig, CommandConfig, ServiceKind,
    auth::{Claims, ROLE_ADMIN, ROLE_CUSTOMER, ROLE_SERVICE, issue_token},
};
use commerce_proto::{
    common::{CommandResult, Money},
    customer::customer_commands_client::CustomerCommandsClient,
    product::{
        product_commands_client::ProductCommandsClient, product_stock_client::ProductStockClient,
    },
};
use event_store::{EventStore, RecordedEvent, StreamId, testing::TestDatabase};
use tonic::{Code, Request, Status, transport::Channel};
use uuid::Uuid;

/// A running command service and what a test needs to talk to it.
pub struct TestApp {
    pub db: TestDatabase,
    pub store: EventStore,
    pub auth: AuthConfig,
    pub channel: Channel,
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
    let store = db.store();
    let auth = AuthConfig::development();
    let mut config = CommandConfig {
        service,
        listen: "127.0.0.1:0".parse().unwrap(),
        settings: db.settings.clone(),
        auth: auth.clone(),
        max_request_bytes: 64 * 1024,
        max_attempts: 5,
    };
    adjust(&mut config);
    let app = App::build_with_store(config, store.clone())
        .await
        .expect("app builds");
    let address = app.local_addr();
    tokio::spawn(app.run_until_stopped());
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("client connects");
    TestApp {
        db,
        store,
        auth,
        channel,
    }
}

impl TestApp {
    pub fn customers(&self) -> CustomerCommandsClient<Channel> {
        CustomerCommandsClient::new(self.channel.clone())
    }

    pub fn products(&self) -> ProductCommandsClient<Channel> {
        ProductCommandsClient::new(self.channel.clone())
    }

    pub fn stock(&self) -> ProductStockClient<Channel> {
        ProductStockClient::new(self.channel.clone())
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
