//! Test support for the command services' own tests and for the end-to-end tests of other crates
//! (feature `testing`): a real command service ([`App`]) over a test database on a free loopback
//! port, with a client channel to it. Tokens for its callers come from `auth::testing`.

use std::{net::SocketAddr, time::Duration};

use event_store::testing::TestDatabase;
use proto::common::Money;
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

use crate::{App, AuthConfig, CommandConfig, DependencyConfig, ServiceKind};

/// The configuration of `service` over `db` on a free port, with the development secret.
pub fn config(service: ServiceKind, db: &TestDatabase) -> CommandConfig {
    CommandConfig {
        service,
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        settings: db.settings.clone(),
        auth: AuthConfig::development(),
        max_request_bytes: 64 * 1024,
        max_attempts: 5,
        dependencies: DependencyConfig::default(),
    }
}

/// A command service running in the test's runtime: its address and a client channel to it.
/// Dropping it stops the service without waiting; [`Server::stop`] waits.
pub struct Server {
    /// Where the service listens.
    pub address: SocketAddr,
    /// A client channel to the service.
    pub channel: Channel,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Server {
    /// Starts `service` over `db`, configured by [`config`] and then `adjust`, and connects a
    /// channel to it.
    pub async fn start(
        service: ServiceKind,
        db: &TestDatabase,
        adjust: impl FnOnce(&mut CommandConfig),
    ) -> Self {
        let mut config = config(service, db);
        adjust(&mut config);
        let app = App::build_with_store(config, db.store())
            .await
            .expect("the command service builds");
        let address = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            stopped.await.ok();
        }));
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("a valid URI")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("the client connects");
        Self {
            address,
            channel,
            stop,
            task,
        }
    }

    /// `http://<address>`, as a dependency endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the service and waits until it no longer serves.
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

/// `amount_minor` cents of euro, as a command's money field.
pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".into(),
    })
}
