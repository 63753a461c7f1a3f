//! `[rocketmq]`: the broker the relay publishes to and the projections consume from
//! (`APP_ROCKETMQ__…`).

use serde::{Deserialize, Serialize};

/// RocketMQ client settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RocketMqSettings {
    /// `host:port` of the name server(s), `;`-separated.
    pub name_server: String,
    /// Events of category `c` travel on topic `<topic_prefix>-<c>` (one topic per bounded
    /// context; the tag is the event type).
    pub topic_prefix: String,
    /// Queues per event topic. Per-stream order rests on the stream → queue hash, which depends on
    /// this count: change it only with the relay stopped and the topics drained.
    pub queues: u32,
    /// This process's client instance name, unique among the live members of its consumer
    /// groups and the same across its restarts (the role and replica: a Kubernetes pod's name,
    /// `projections` under `scripts/run`). The broker keys an orderly consumer's queue locks by
    /// it, so a replica killed and restarted under its name takes its queues back at once
    /// instead of waiting for the dead process's locks to expire (60 s). Empty (the default):
    /// a new name per process start, which is always safe and pays that wait after a crash.
    /// Two live processes must never share a name: both would believe they hold the same
    /// queue's lock.
    pub instance_name: String,
}

impl Default for RocketMqSettings {
    fn default() -> Self {
        Self {
            name_server: "127.0.0.1:9876".to_owned(),
            topic_prefix: "commerce".to_owned(),
            queues: 8,
            instance_name: String::new(),
        }
    }
}
