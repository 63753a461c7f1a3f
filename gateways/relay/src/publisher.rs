//! The real [`Publisher`]: encodes events with the shared message format and sends them to
//! RocketMQ in per-queue batches, creating a category's topic the first time it is met.

use std::collections::HashSet;

use event_store::RecordedEvent;
use rocketmq_gateway::{BrokerClient, EventTopics, GatewayError, OutgoingEvent, Producer};

use crate::pump::Publisher;

/// The categories of the bounded contexts; their topics are created when a relay becomes
/// active. Any other category's topic is created when its first event comes.
pub const KNOWN_CATEGORIES: [&str; 5] = ["customer", "product", "cart", "order", "payment"];

/// Publishes to the category topics through one producer.
pub struct RocketMqPublisher<'a> {
    client: &'a BrokerClient,
    producer: &'a Producer,
    topics: EventTopics,
    queues: u32,
    max_batch_bytes: usize,
    created: HashSet<String>,
}

impl<'a> RocketMqPublisher<'a> {
    /// A publisher sending through `producer`, creating topics with `queues` queues through
    /// `client`; batches per queue stay within `max_batch_bytes`.
    pub fn new(
        client: &'a BrokerClient,
        producer: &'a Producer,
        topics: EventTopics,
        queues: u32,
        max_batch_bytes: usize,
    ) -> Self {
        Self {
            client,
            producer,
            topics,
            queues,
            max_batch_bytes,
            created: HashSet::new(),
        }
    }

    /// Creates the topic of `category` with the configured queue count, once per publisher.
    pub async fn ensure_topic(&mut self, category: &str) -> Result<(), GatewayError> {
        let topic = self.topics.topic(category);
        if self.created.contains(&topic) {
            return Ok(());
        }
        self.client.create_topic(&topic, self.queues).await?;
        tracing::info!(%topic, queues = self.queues, "topic ready");
        self.created.insert(topic);
        Ok(())
    }
}

impl Publisher for RocketMqPublisher<'_> {
    type Error = GatewayError;

    async fn publish(&mut self, events: &[RecordedEvent]) -> Result<(), GatewayError> {
        for event in events {
            let category = event.stream_id.category();
            if !self.created.contains(&self.topics.topic(category)) {
                self.ensure_topic(category).await?;
            }
        }
        let outgoing: Vec<OutgoingEvent> = events
            .iter()
            .map(|event| OutgoingEvent::encode(&self.topics, event))
            .collect();
        self.producer
            .send_events(&outgoing, self.max_batch_bytes)
            .await?;
        Ok(())
    }
}
