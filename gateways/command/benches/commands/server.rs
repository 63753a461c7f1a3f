//! The command services under test, started in process, and how clients call them.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use command::{
    App, AuthConfig, CommandConfig, ServiceKind,
    auth::{Claims, ROLE_ADMIN, ROLE_SERVICE, issue_token},
};
use event_store::{EventStore, testing::TestDatabase};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

/// An `authorization: Bearer <JWT>` header value.
pub type Token = MetadataValue<Ascii>;

/// A running command service and the tokens to call it with.
#[derive(Clone)]
pub struct Server {
    /// Where it listens.
    pub address: SocketAddr,
    /// A connection for seeding.
    pub channel: Channel,
    /// The service's token settings, to sign more tokens with.
    pub auth: AuthConfig,
    /// An admin's token (catalog management).
    pub admin: Token,
    /// Another service's token (stock reservations).
    pub service: Token,
}

impl Server {
    /// Starts `kind` on a free loopback port over `store`, configured as `scripts/run` would
    /// (the process environment) plus `overrides`, with the test database's settings.
    pub async fn start(
        kind: ServiceKind,
        db: &TestDatabase,
        store: EventStore,
        overrides: &[(&str, String)],
    ) -> Self {
        let mut env: HashMap<String, String> = std::env::vars().collect();
        env.insert("APP_COMMAND__LISTEN".into(), "127.0.0.1:0".into());
        env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let mut config = CommandConfig::from_env(kind, env).expect("command config");
        config.settings = db.settings.clone();
        let auth = config.auth.clone();
        let app = App::build_with_store(config, store)
            .await
            .expect("app builds");
        let address = app.local_addr();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            channel: connect(address).await,
            auth: auth.clone(),
            admin: bearer(&auth, "bench-admin", &[ROLE_ADMIN]),
            service: bearer(&auth, "order-service", &[ROLE_SERVICE]),
        }
    }
}

/// `message` with the bearer token.
pub fn authed<T>(message: T, token: &Token) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

pub fn bearer(auth: &AuthConfig, sub: &str, roles: &[&str]) -> Token {
    let claims = Claims::new(sub, roles, &auth.issuer, Duration::from_secs(3600));
    format!("Bearer {}", issue_token(auth, &claims))
        .parse()
        .expect("ascii token")
}

pub async fn connect(address: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("client connects")
}
