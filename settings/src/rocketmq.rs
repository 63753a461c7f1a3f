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
}

impl Default for RocketMqSettings {
    fn default() -> Self {
        Self {
            name_server: "127.0.0.1:9876".to_owned(),
            topic_prefix: "commerce".to_owned(),
            queues: 8,
        }
    }
}
