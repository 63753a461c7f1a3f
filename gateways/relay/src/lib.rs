//! The relay: tails the event log gap-safely and publishes every event to RocketMQ, ordered per
//! stream, at least once, with exactly one active replica per relay name.
//!
//! - [`Relay`] is the process: leadership (a PostgreSQL session advisory lock), topic set-up,
//!   the publish loop, metrics, clean shutdown. `commerce-relay` is its binary.
//! - [`Pump`] is the pipeline: per-queue lanes with several sends in flight, generic over a
//!   [`Publisher`]; the [`Checkpointer`] writes the acknowledged prefix behind it through a
//!   [`CheckpointStore`]. Their invariant (see `pump.rs`, docs/relay-pipeline.md) is tested
//!   without a broker or a database.
//! - [`RocketMqPublisher`] and [`PgCheckpoints`] are the real publisher and checkpoint store.
//! - Restore safety (docs/restore-safety.md): a checkpoint carries the [`LogEpoch`] (the
//!   PostgreSQL cluster) its transaction id belongs to; the relay refuses to publish from a
//!   checkpoint of another epoch, and [`Reanchor`] (`commerce-relay reanchor`) sets it right.
//! - The leadership lock's connection is named `commerce-relay-leadership` and carries short
//!   server-side TCP keepalives ([`leadership_connect_options`]), so a partitioned leader's lock
//!   is released within seconds.
//!
//! # Running it
//!
//! In-process (tests do this):
//!
//! ```no_run
//! # async fn example(settings: settings::Settings) -> Result<(), relay::RelayError> {
//! let relay = relay::Relay::build(settings).await?;
//! let metrics = relay.metrics(); // or scrape relay.metrics_addr()
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(relay.run(async { let _ = stopped.await; }));
//! // ...
//! let _ = stop.send(());
//! running.await.expect("relay task")?;
//! # Ok(())
//! # }
//! ```
//!
//! As a process: `commerce-relay`, configured like every process (`APP_DATABASE__URL`,
//! `APP_ROCKETMQ__NAME_SERVER`, `APP_ROCKETMQ__TOPIC_PREFIX`, `APP_ROCKETMQ__QUEUES`,
//! `APP_RELAY__NAME`, `APP_RELAY__PRODUCER_GROUP`, `APP_RELAY__BATCH_SIZE`,
//! `APP_RELAY__MAX_BATCH_BYTES`, `APP_RELAY__RETRY_INITIAL_MS`, `APP_RELAY__RETRY_MAX_MS`,
//! `APP_RELAY__STANDBY_POLL_MS`, `APP_RELAY__METRICS_LISTEN` — empty for no endpoint). It stops
//! cleanly on SIGTERM or ctrl-c. Replicas sharing `relay.name` elect one publisher among
//! themselves; the checkpoint row in `relay_checkpoints` has that name too.
//!
//! Operator command, same settings: `commerce-relay reanchor [--name <relay>]
//! (--after-position <N> | --from-start) [--force]` (see [`Command`]).
#![forbid(unsafe_code)]
// The RocketMQ client futures are deep state machines (see `rocketmq`).
#![recursion_limit = "512"]

mod checkpoint;
mod command;
mod epoch;
mod error;
mod leadership;
mod metrics;
mod publisher;
mod pump;
mod startup;

pub use checkpoint::PgCheckpoints;
pub use command::{Command, UsageError};
pub use epoch::{LogEpoch, Reanchor, ReanchorTarget, Reanchored, StoredCheckpoint, current_epoch};
pub use error::RelayError;
pub use leadership::{LEADERSHIP_APPLICATION_NAME, Leader, Standby, leadership_connect_options};
pub use metrics::RelayMetrics;
pub use publisher::{KNOWN_CATEGORIES, QueueLane, RocketMqPublisher};
pub use pump::{Backoff, CheckpointStore, Checkpointer, Limits, Publisher, Pump, load_checkpoint};
pub use startup::Relay;
