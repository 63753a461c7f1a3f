//! The real [`Publisher`]: encodes events with the shared message format, routes each to the
//! queue its stream id hashes to (the lane), and sends one queue's batch at a time within
//! `max_batch_bytes`; creates a category's topic the first time it is met.

use std::collections::HashSet;
use std::sync::Mutex;

use event_store::RecordedEvent;
use rocketmq::{BrokerClient, EventTopics, GatewayError, OutgoingEvent, Producer};

use crate::pump::Publisher;

/// The categories of the bounded contexts ([`aggregates::CATEGORIES`]); their topics are created
/// when a relay becomes active. Any other category's topic is created when its first event
/// comes.
pub const KNOWN_CATEGORIES: [&str; aggregates::CATEGORIES.len()] = aggregates::CATEGORIES;

/// Publishes to the category topics through one producer.
pub struct RocketMqPublisher<'a> {
    client: &'a BrokerClient,
    producer: &'a Producer,
    topics: EventTopics,
    queues: u32,
    max_batch_bytes: usize,
    created: Mutex<HashSet<String>>,
}

/// A queue of a topic: `(topic, broker name, queue id)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueLane {
    topic: String,
    broker: String,
    queue_id: i32,
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
            created: Mutex::new(HashSet::new()),
        }
    }

    /// Creates the topic of `category` with the configured queue count, once per publisher.
    pub async fn ensure_topic(&self, category: &str) -> Result<(), GatewayError> {
        let topic = self.topics.topic(category);
        if self.is_created(&topic) {
            return Ok(());
        }
        self.client.create_topic(&topic, self.queues).await?;
        tracing::info!(%topic, queues = self.queues, "topic ready");
        self.created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic);
        Ok(())
    }

    fn is_created(&self, topic: &str) -> bool {
        self.created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(topic)
    }
}

impl Publisher for RocketMqPublisher<'_> {
    type Error = GatewayError;
    type Lane = QueueLane;
    type Message = OutgoingEvent;

    async fn prepare(
        &self,
        event: &RecordedEvent,
    ) -> Result<(QueueLane, OutgoingEvent), GatewayError> {
        let outgoing = OutgoingEvent::encode(&self.topics, event);
        if !self.is_created(&outgoing.topic) {
            self.ensure_topic(event.stream_id.category()).await?;
        }
        let (broker, queue_id) = self.producer.queue_of(&outgoing).await?;
        let lane = QueueLane {
            topic: outgoing.topic.clone(),
            broker,
            queue_id,
        };
        Ok((lane, outgoing))
    }

    async fn send(
        &self,
        lane: &QueueLane,
        messages: &[OutgoingEvent],
    ) -> Result<usize, GatewayError> {
        let receipts = self
            .producer
            .send_to_queue(&lane.broker, lane.queue_id, messages, self.max_batch_bytes)
            .await?;
        Ok(receipts.len())
    }
}
