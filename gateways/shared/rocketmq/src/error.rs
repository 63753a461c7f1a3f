//! The errors of this crate: one enum, each variant saying how a caller should react.

use std::time::Duration;

use rocketmq_client_rust::{ClientError, SendStatus};
use rocketmq_runtime::{RuntimeContractViolation, RuntimeError};

/// Everything that can go wrong talking to RocketMQ through this crate.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The client runtime configuration was rejected. A configuration bug: fix it, do not retry.
    #[error("invalid rocketmq client runtime configuration")]
    RuntimeConfig(#[source] RuntimeContractViolation),

    /// The client runtime (its threads, its memory budget) could not be built. Fatal at start-up.
    #[error("failed to build the rocketmq client runtime")]
    RuntimeBuild(#[source] RuntimeError),

    /// A client call failed: connection refused, timeout, broker error. Usually transient: retry
    /// with backoff, and surface it (readiness, logs) if it persists.
    #[error("rocketmq {operation} failed")]
    Client {
        /// What was being done, e.g. `"send"` or `"start consumer"`.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: ClientError,
    },

    /// The message could not be built, e.g. a user property uses a name RocketMQ reserves.
    /// A caller bug: retrying the same message fails the same way.
    #[error("invalid message for topic {topic}")]
    InvalidMessage {
        /// The topic the message was meant for.
        topic: String,
        /// The client's validation error.
        #[source]
        source: ClientError,
    },

    /// The broker stored nothing we may count on: it answered with a status other than
    /// `SEND_OK` (a flush or replica timeout), or with no result at all. Not acknowledged: do not
    /// advance a checkpoint past this message; send it again (consumers are idempotent).
    #[error("send to topic {topic} was not acknowledged (status {status:?})")]
    NotAcknowledged {
        /// The topic of the message.
        topic: String,
        /// The status the broker answered with, if any.
        status: Option<SendStatus>,
    },

    /// The name server knows no master broker for the configured cluster, so a topic cannot be
    /// created. Check the cluster name and that the broker has registered; retry later.
    #[error("no master broker found in cluster {cluster}")]
    NoBroker {
        /// The cluster that was searched.
        cluster: String,
    },

    /// The topic was created on the brokers but its route did not show the requested queues at
    /// the name server in time. Retry `create_topic` (it is idempotent) or raise the timeout.
    #[error(
        "route of topic {topic} did not show {queue_count} queues on every broker within {waited:?}"
    )]
    TopicRouteTimeout {
        /// The topic being created.
        topic: String,
        /// The queue count asked for.
        queue_count: u32,
        /// How long we waited.
        waited: Duration,
    },

    /// The topic has no publish queues (no route at the name server yet). Create the topic
    /// (or wait for its route) and retry.
    #[error("topic {topic} has no publish queues")]
    NoRoute {
        /// The topic that has no route.
        topic: String,
    },

    /// A concurrent send task ended without an answer (it panicked or was cancelled). Treat as
    /// not acknowledged: send again.
    #[error("send task failed: {reason}")]
    SendTask {
        /// What happened to the task.
        reason: String,
    },

    /// A shutdown step left tasks running, panicked or timed out. The process is stopping anyway:
    /// log it; in tests it means a facade was not shut down before the client.
    #[error("unclean shutdown of the {stage}: {report}")]
    UncleanShutdown {
        /// Which step reported the problem.
        stage: &'static str,
        /// The runtime's shutdown report, as JSON.
        report: String,
    },
}

impl GatewayError {
    pub(crate) fn client(operation: &'static str) -> impl FnOnce(ClientError) -> Self {
        move |source| Self::Client { operation, source }
    }
}
