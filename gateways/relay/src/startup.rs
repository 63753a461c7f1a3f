//! Building and running the relay process: leadership, the log-epoch check, the publish loop,
//! metrics, shutdown.
//!
//! Stopping an active phase (shutdown, leadership lost, an error) keeps the pump's invariant
//! (`pump.rs`, docs/relay-pipeline.md): publishing stops first (the phase is dropped, sends in
//! flight count as unacknowledged), then the checkpoint writer stores the last acknowledged
//! value, best effort, except after a log-epoch change; only then are the producer and the
//! leadership lock let go.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use event_store::{AllPosition, EventStore, Subscription};
use rocketmq::{BrokerClient, BrokerClientConfig, EventTopics, Producer};
use server::{MetricsServer, Registry};
use settings::Settings;
use sqlx::postgres::PgConnectOptions;
use tracing::{error, info, warn};

use crate::epoch;
use crate::pump::{
    Backoff, Checkpointer, Limits, Pump, error_chain, load_checkpoint, millis_since,
};
use crate::{
    KNOWN_CATEGORIES, LogEpoch, PgCheckpoints, RelayError, RelayMetrics, RocketMqPublisher, Standby,
};

/// How often lag and held-back metrics are refreshed, and the log epoch compared.
const OBSERVE_INTERVAL: Duration = Duration::from_secs(1);
/// How often a relay refusing to publish (docs/restore-safety.md) looks at its checkpoint again.
const EPOCH_RECHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often a refusing relay repeats its error in the log.
const MISMATCH_REPORT_INTERVAL: Duration = Duration::from_secs(30);
/// How long a stopping relay tries to store its last acknowledged checkpoint.
const FINAL_CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(5);

/// A built relay, ready to run. Run it to the end ([`Relay::run`]): that also shuts the broker
/// client down, which must not simply be dropped inside a runtime.
pub struct Relay {
    settings: Settings,
    store: EventStore,
    lock_options: PgConnectOptions,
    broker: BrokerClient,
    metrics: RelayMetrics,
    metrics_server: Option<MetricsServer>,
}

impl Relay {
    /// Connects lazily to PostgreSQL, builds the broker client and starts the metrics endpoint
    /// (unless `relay.metrics_listen` is empty). Publishing starts with [`Relay::run`].
    pub async fn build(settings: Settings) -> Result<Self, RelayError> {
        let pool = event_store::connect_lazy(&settings.database)?;
        let lock_options = event_store::connect_options(&settings.database)?;
        let store = EventStore::new(pool, settings.event_store.clone());
        let metrics = RelayMetrics::default();
        metrics.healthy.set(1);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let listen = settings.relay.metrics_listen.trim();
        let metrics_server = MetricsServer::start_unless_empty(listen, registry)
            .await
            .map_err(|source| RelayError::Metrics {
                listen: listen.to_owned(),
                source,
            })?;
        let broker = BrokerClient::new(BrokerClientConfig::new(
            settings.rocketmq.name_server.clone(),
        ))?;
        Ok(Self {
            settings,
            store,
            lock_options,
            broker,
            metrics,
            metrics_server,
        })
    }

    /// Where `/metrics` is served, if anywhere (useful with port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|server| server.local_addr)
    }

    /// The relay's metrics, e.g. for in-process tests.
    pub fn metrics(&self) -> RelayMetrics {
        self.metrics.clone()
    }

    /// Runs until SIGTERM or ctrl-c, then stops cleanly.
    pub async fn run_until_stopped(self) -> Result<(), RelayError> {
        self.run(server::shutdown::signal()).await
    }

    /// Runs until `shutdown` completes: waits as standby for the leadership lock, publishes
    /// while it holds the lock, steps down when the lock's connection fails or the active phase
    /// fails, and contends again. While the checkpoint belongs to another log epoch it holds the
    /// lock but publishes nothing ([`RelayError::LogEpochMismatch`]).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RelayError> {
        tokio::pin!(shutdown);
        let name = self.settings.relay.name.clone();
        let poll = Duration::from_millis(self.settings.relay.standby_poll_ms.max(1));
        let mut standby = Standby::new(self.lock_options.clone(), name.clone());
        loop {
            let leader = tokio::select! {
                leader = standby.acquire(poll) => leader,
                () = &mut shutdown => break,
            };
            info!(relay = %name, "relay active: holding the leadership lock");
            let mut producer: Option<Producer> = None;
            let mut checkpointer: Option<Checkpointer> = None;
            let outcome = tokio::select! {
                outcome = self.active(&mut producer, &mut checkpointer) => Some(outcome),
                () = leader.lost() => Some(RelayError::LeadershipLost),
                () = &mut shutdown => None,
            };
            // Publishing has stopped (the active phase is dropped): store the last acknowledged
            // checkpoint, unless the database turned out to be another cluster.
            if let Some(checkpointer) = checkpointer {
                if matches!(outcome, Some(RelayError::LogEpochChanged { .. })) {
                    drop(checkpointer);
                } else {
                    checkpointer.finish(FINAL_CHECKPOINT_TIMEOUT).await;
                }
            }
            self.metrics.active.set(0);
            // A standby refuses nothing; the next activation checks the checkpoint again.
            self.metrics.log_epoch_mismatch.set(0);
            self.metrics.healthy.set(1);
            if let Some(producer) = producer {
                producer.shutdown().await;
            }
            leader.release().await;
            let Some(error) = outcome else { break };
            error!(relay = %name, error = %error_chain(&error), "relay stepped down");
            let pause = Duration::from_millis(self.settings.relay.retry_max_ms);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = &mut shutdown => break,
            }
        }
        info!(relay = %name, "relay stopping");
        if let Some(server) = self.metrics_server {
            server.stop();
        }
        self.broker.shutdown().await?;
        Ok(())
    }

    /// The active phase: the log-epoch check, producer, topics, checkpoint, then the publish
    /// loop. Returns only on an error; stopped by being dropped. Leaves the producer and the
    /// checkpoint writer in the slots, for the caller to stop.
    async fn active(
        &self,
        producer_slot: &mut Option<Producer>,
        checkpointer_slot: &mut Option<Checkpointer>,
    ) -> RelayError {
        let relay = &self.settings.relay;
        let backoff = Backoff {
            initial: Duration::from_millis(relay.retry_initial_ms.max(1)),
            max: Duration::from_millis(relay.retry_max_ms.max(1)),
        };
        let epoch = self.await_consistent_checkpoint(backoff).await;
        self.metrics.active.set(1);
        let producer = match self.broker.start_producer(&relay.producer_group).await {
            Ok(producer) => producer_slot.insert(producer),
            Err(error) => return error.into(),
        };
        let publisher = RocketMqPublisher::new(
            &self.broker,
            producer,
            EventTopics::new(self.settings.rocketmq.topic_prefix.clone()),
            self.settings.rocketmq.queues,
            relay.max_batch_bytes,
        );
        for category in KNOWN_CATEGORIES {
            let mut failures = 0;
            while let Err(error) = publisher.ensure_topic(category).await {
                failures += 1;
                warn!(category, error = %error_chain(&error), failures, "creating topic failed; retrying");
                tokio::time::sleep(backoff.delay(failures)).await;
            }
        }
        let mut checkpoints =
            PgCheckpoints::new(self.store.pool().clone(), relay.name.clone()).in_epoch(epoch);
        let checkpoint = load_checkpoint(&mut checkpoints, backoff).await;
        info!(%checkpoint, "relay resuming after checkpoint");
        self.metrics
            .checkpoint_position
            .set(i64::try_from(checkpoint.position).unwrap_or(i64::MAX));
        let checkpointer = checkpointer_slot.insert(Checkpointer::start(
            checkpoints,
            checkpoint,
            backoff,
            self.metrics.clone(),
        ));
        let pump = Pump::new(
            backoff,
            Limits::for_batch_size(relay.batch_size),
            self.metrics.clone(),
        );
        self.publish_loop(pump, &publisher, checkpointer, epoch)
            .await
    }

    /// Returns once the checkpoint belongs to this database's log epoch, with that epoch
    /// (docs/restore-safety.md). Until then this replica publishes nothing: it reports the
    /// mismatch in `relay_log_epoch_mismatch`, `relay_healthy` and an error naming the
    /// re-anchor command, and looks again every [`EPOCH_RECHECK_INTERVAL`], so a re-anchor takes
    /// effect without a restart.
    async fn await_consistent_checkpoint(&self, backoff: Backoff) -> LogEpoch {
        let name = &self.settings.relay.name;
        let mut refusing_since: Option<Instant> = None;
        let mut reported: Option<Instant> = None;
        let mut failures = 0;
        loop {
            let pause = match epoch::check(self.store.pool(), name).await {
                Ok(epoch) => {
                    if let Some(since) = refusing_since {
                        info!(relay = %name, %epoch, refused_for = ?since.elapsed(), "checkpoint re-anchored; publishing");
                    }
                    self.metrics.log_epoch_mismatch.set(0);
                    self.metrics.healthy.set(1);
                    return epoch;
                }
                Err(error @ RelayError::LogEpochMismatch { .. }) => {
                    refusing_since.get_or_insert_with(Instant::now);
                    self.metrics.log_epoch_mismatch.set(1);
                    self.metrics.healthy.set(0);
                    if reported.is_none_or(|at| at.elapsed() >= MISMATCH_REPORT_INTERVAL) {
                        error!(relay = %name, error = %error, "log epoch mismatch");
                        reported = Some(Instant::now());
                    }
                    EPOCH_RECHECK_INTERVAL
                }
                Err(error) => {
                    failures += 1;
                    warn!(error = %error_chain(&error), failures, "checking the log epoch failed; retrying");
                    backoff.delay(failures)
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Feeds the pump from the `$all` subscription after the checkpoint, and observes (metrics,
    /// log epoch) every [`OBSERVE_INTERVAL`] meanwhile. Returns only on an error.
    async fn publish_loop<'p>(
        &self,
        pump: Pump<RocketMqPublisher<'p>>,
        publisher: &RocketMqPublisher<'p>,
        checkpointer: &Checkpointer,
        epoch: LogEpoch,
    ) -> RelayError {
        let mut subscription = match self.store.subscribe_all(checkpointer.latest()).await {
            Ok(subscription) => subscription,
            Err(error) => return error.into(),
        };
        let (events, mut taken) = tokio::sync::mpsc::channel(self.settings.relay.batch_size.max(1));
        let feed = async {
            let mut tick = tokio::time::interval(OBSERVE_INTERVAL);
            let mut held = None;
            loop {
                tokio::select! {
                    permit = events.reserve(), if held.is_some() => match permit {
                        Ok(permit) => permit.send(held.take().expect("checked")),
                        Err(_) => return RelayError::SubscriptionEnded,
                    },
                    next = subscription.next(), if held.is_none() => match next {
                        Some(Ok(event)) => held = Some(event),
                        Some(Err(error)) => return error.into(),
                        None => return RelayError::SubscriptionEnded,
                    },
                    _ = tick.tick() => {
                        let acknowledged = checkpointer.latest();
                        let observed = self.observe(&subscription, acknowledged, epoch).await;
                        if let Some(error) = observed {
                            return error;
                        }
                    }
                }
            }
        };
        tokio::select! {
            error = feed => error,
            () = pump.run(publisher, &mut taken, checkpointer) => RelayError::SubscriptionEnded,
        }
    }

    /// Refreshes the lag and held-back metrics, and compares the database's log epoch with the
    /// one publishing started in: a pool that reconnected to another cluster must not go on
    /// (docs/restore-safety.md). Other failures only leave the gauges stale.
    async fn observe(
        &self,
        subscription: &Subscription,
        checkpoint: AllPosition,
        epoch: LogEpoch,
    ) -> Option<RelayError> {
        let status = subscription.status();
        self.metrics.held_back_ms.set(
            status
                .held_back_by
                .map_or(0, |(_, since)| millis_since(since)),
        );
        let head: Result<(Option<i64>, i64), _> =
            sqlx::query_as("SELECT (SELECT max(position) FROM events), relay_log_epoch()")
                .fetch_one(self.store.pool())
                .await;
        match head {
            Ok((_, now)) if now != epoch.0 => {
                return Some(RelayError::LogEpochChanged {
                    from: epoch,
                    to: LogEpoch(now),
                });
            }
            Ok((head, _)) => {
                let head = u64::try_from(head.unwrap_or(0)).unwrap_or(0);
                let lag = head.saturating_sub(checkpoint.position);
                self.metrics
                    .lag_positions
                    .set(i64::try_from(lag).unwrap_or(i64::MAX));
                if lag == 0 {
                    self.metrics.lag_ms.set(0);
                }
            }
            Err(error) => warn!(%error, "reading the log head failed"),
        }
        None
    }
}
