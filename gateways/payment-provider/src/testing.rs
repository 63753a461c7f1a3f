//! Test support for this crate's tests and those of crates that talk to the provider (feature
//! `testing`): the simulator running in the test's runtime on a free loopback port.

use std::{net::SocketAddr, time::Duration};

use settings::{DEVELOPMENT_WEBHOOK_SECRET, SecretString};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{App, ProviderConfig, RetryPolicy};

/// A configuration sending callbacks to `webhook_url`, signed with the development secret,
/// answering unscripted charges at once, on a free port of 127.0.0.1.
pub fn config(webhook_url: &str) -> ProviderConfig {
    ProviderConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        webhook_url: webhook_url.to_owned(),
        signing_secret: SecretString::from(DEVELOPMENT_WEBHOOK_SECRET),
        default_delay: Duration::ZERO,
        retry: RetryPolicy::default(),
    }
}

/// The simulator running in the test's runtime. Dropping it leaves it running until the
/// runtime ends; [`Provider::stop`] stops it and its deliveries.
pub struct Provider {
    /// Where it listens.
    pub address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Provider {
    /// Starts the simulator configured by [`config`] and then `adjust`.
    pub async fn start(webhook_url: &str, adjust: impl FnOnce(&mut ProviderConfig)) -> Self {
        let mut config = config(webhook_url);
        adjust(&mut config);
        let app = App::build(config).await.expect("the simulator builds");
        let address = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            stopped.await.ok();
        }));
        Self {
            address,
            stop,
            task,
        }
    }

    /// `http://<address>`: the provider URL the process manager is configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the simulator (its deliveries in flight included) and waits until it has.
    pub async fn stop(self) {
        self.stop.send(()).ok();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the simulator stops within 10 s")
            .expect("the simulator task does not panic")
            .expect("the simulator shuts down cleanly");
    }
}
