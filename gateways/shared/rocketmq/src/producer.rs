//! Producing with per-stream order: every message of one stream goes to the same queue.
//!
//! Three ways to send, with the same queue choice: [`Producer::send_ordered`] sends one message
//! through the client's `SelectMessageQueueByHash`; [`Producer::send_events`] groups many events by
//! that same queue and sends each group with `send_batch_to_queue` (docs/relay-ordering.md),
//! keeping the input order within every queue; [`Producer::queue_of`] and [`Producer::send_to_queue`]
//! split that in two, so a caller that keeps its own per-queue lanes (the relay,
//! docs/relay-pipeline.md) routes an event once and sends one queue's batch when it chooses.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ClientError, DefaultMQProducer, MessageQueueSelector, SelectMessageQueueByHash, SendStatus,
};
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::instrument;

use crate::client::BrokerClient;
use crate::error::GatewayError;
use crate::event_message::OutgoingEvent;

mod batch;

use batch::{QueueGroup, estimated_size, send_batch, send_group};

/// How long a topic's publish queue list is reused before it is fetched again from the name
/// server (the client refreshes its own route table every 30 s).
const QUEUE_LIST_TTL: Duration = Duration::from_secs(30);
/// Most batches in flight at once across queues of one [`Producer::send_events`] call (each
/// queue's batches still go one after another). Unbounded concurrent sends fail (ROCKETMQ.md).
const MAX_BATCHES_IN_FLIGHT: usize = 8;

/// Where the broker stored an acknowledged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The message id the client assigned (`UNIQ_KEY`).
    pub msg_id: String,
    /// The queue the message was stored in.
    pub queue_id: i32,
    /// The message's offset within that queue.
    pub queue_offset: u64,
}

/// A topic's publish queues and when they were fetched.
type CachedQueues = (Instant, Arc<Vec<MessageQueue>>);

/// A started producer of one producer group.
pub struct Producer {
    inner: DefaultMQProducer,
    group: String,
    /// Publish queues per topic, as the selector of `send_ordered` sees them, and when fetched.
    queues: Mutex<HashMap<String, CachedQueues>>,
}

impl fmt::Debug for Producer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Producer")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl BrokerClient {
    /// Starts a producer in `producer_group`, talking to this client's name server.
    pub async fn start_producer(&self, producer_group: &str) -> Result<Producer, GatewayError> {
        let mut inner = DefaultMQProducer::builder(self.client_runtime())
            .producer_group(producer_group)
            .name_server_addr(self.config.name_server.as_str())
            .build();
        inner
            .start()
            .await
            .map_err(GatewayError::client("start producer"))?;
        Ok(Producer {
            inner,
            group: producer_group.to_owned(),
            queues: Mutex::new(HashMap::new()),
        })
    }
}

impl Producer {
    /// The producer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Sends one message to the queue chosen by hashing `selector_arg` (pass the stream id) and
    /// waits for the broker's answer.
    ///
    /// The queue is `|java_hash(selector_arg) % queue_count|`, so one stream always lands on one
    /// queue while the queue count stays the same; the key does not take part in the choice.
    /// `tag` is what consumers filter on; `key` is indexed by the broker (look-up by key).
    /// Empty `tag` or `key` are left out. `properties` become user properties; names RocketMQ
    /// reserves are refused with [`GatewayError::InvalidMessage`].
    ///
    /// `Ok` only for `SEND_OK`: any other status is [`GatewayError::NotAcknowledged`].
    #[instrument(
        skip_all,
        fields(
            producer_group = %self.group,
            topic = topic,
            tag = tag,
            key = key,
            stream = selector_arg,
        )
    )]
    pub async fn send_ordered(
        &self,
        topic: &str,
        tag: &str,
        key: &str,
        selector_arg: &str,
        body: Vec<u8>,
        properties: &[(&str, &str)],
    ) -> Result<SendReceipt, GatewayError> {
        let message = build_message(topic, tag, key, body, properties).map_err(|source| {
            GatewayError::InvalidMessage {
                topic: topic.to_owned(),
                source,
            }
        })?;
        let result = self
            .inner
            .send_with_selector(
                message,
                |queues, message, arg: &&str| SelectMessageQueueByHash.select(queues, message, arg),
                selector_arg,
            )
            .await
            .map_err(GatewayError::client("send"))?;
        match result {
            Some(result) if result.send_status == SendStatus::SendOk => {
                let receipt = SendReceipt {
                    msg_id: result.msg_id.as_deref().unwrap_or_default().to_owned(),
                    queue_id: result
                        .message_queue
                        .as_ref()
                        .map_or(-1, MessageQueue::queue_id),
                    queue_offset: result.queue_offset,
                };
                tracing::trace!(
                    queue_id = receipt.queue_id,
                    offset = receipt.queue_offset,
                    "sent"
                );
                Ok(receipt)
            }
            other => Err(GatewayError::NotAcknowledged {
                topic: topic.to_owned(),
                status: other.map(|result| result.send_status),
            }),
        }
    }

    /// Sends `events`, given in log order, grouped by target queue: each group goes with
    /// `send_batch_to_queue` to exactly the queue [`Producer::send_ordered`] would choose for its
    /// stream (`SelectMessageQueueByHash` over the topic's publish queues, applied to
    /// [`OutgoingEvent::selector`]), in input order, split into batches of at most
    /// `max_batch_bytes` (estimated encoded size; a single larger event goes alone).
    ///
    /// Each queue's batches go one after another, each only after the previous one was
    /// acknowledged; different queues proceed concurrently (a few batches in flight).
    ///
    /// `Ok` only if every batch was answered `SEND_OK` (docs/relay-ordering.md); the receipts are
    /// in the order of `events`. On `Err` some batches may have been stored: send the same events
    /// again (consumers drop what they already applied), never only the rest.
    #[instrument(skip_all, fields(producer_group = %self.group, events = events.len()))]
    pub async fn send_events(
        &self,
        events: &[OutgoingEvent],
        max_batch_bytes: usize,
    ) -> Result<Vec<SendReceipt>, GatewayError> {
        // Group by target queue, in order of first appearance; each group keeps input order.
        let mut groups: Vec<QueueGroup> = Vec::new();
        let mut group_of: HashMap<(String, String, i32), usize> = HashMap::new();
        let mut queue_lists: HashMap<String, Arc<Vec<MessageQueue>>> = HashMap::new();
        for (index, event) in events.iter().enumerate() {
            let queues = match queue_lists.get(&event.topic) {
                Some(queues) => Arc::clone(queues),
                None => {
                    let queues = self.publish_queues(&event.topic).await?;
                    queue_lists.insert(event.topic.clone(), Arc::clone(&queues));
                    queues
                }
            };
            let message = encode_message(event)?;
            let selector = event.selector.as_str();
            let queue = SelectMessageQueueByHash
                .select(&queues, &message, &selector)
                .ok_or_else(|| GatewayError::NoRoute {
                    topic: event.topic.clone(),
                })?;
            let key = (
                event.topic.clone(),
                queue.broker_name().to_string(),
                queue.queue_id(),
            );
            let slot = *group_of.entry(key).or_insert_with(|| {
                groups.push(QueueGroup {
                    topic: event.topic.clone(),
                    queue,
                    messages: Vec::new(),
                });
                groups.len() - 1
            });
            groups[slot]
                .messages
                .push((index, estimated_size(event), message));
        }

        let permits = Arc::new(Semaphore::new(MAX_BATCHES_IN_FLIGHT));
        let mut tasks = JoinSet::new();
        for group in groups {
            let producer = self.inner.clone();
            let permits = Arc::clone(&permits);
            let span = tracing::Span::current();
            tasks.spawn(tracing::Instrument::instrument(
                send_group(producer, group, max_batch_bytes, permits),
                span,
            ));
        }
        let mut receipts: Vec<(usize, SendReceipt)> = Vec::with_capacity(events.len());
        while let Some(joined) = tasks.join_next().await {
            // Returning early drops the set, which aborts the other queues' sends.
            match joined {
                Ok(Ok(group_receipts)) => receipts.extend(group_receipts),
                Ok(Err(error)) => return Err(error),
                Err(join_error) => {
                    return Err(GatewayError::SendTask {
                        reason: join_error.to_string(),
                    });
                }
            }
        }
        receipts.sort_by_key(|(index, _)| *index);
        Ok(receipts.into_iter().map(|(_, receipt)| receipt).collect())
    }

    /// The queue [`Producer::send_events`] sends `event` to: `(broker name, queue id)` of the hash
    /// of [`OutgoingEvent::selector`] over the topic's publish queues. Fails with
    /// [`GatewayError::NoRoute`] while the topic has no route.
    pub async fn queue_of(&self, event: &OutgoingEvent) -> Result<(String, i32), GatewayError> {
        let queues = self.publish_queues(&event.topic).await?;
        // The hash selector reads only the argument; it still wants a message to look at.
        let placeholder = build_message(&event.topic, "", "", vec![0], &[]).map_err(|source| {
            GatewayError::InvalidMessage {
                topic: event.topic.clone(),
                source,
            }
        })?;
        let queue = SelectMessageQueueByHash
            .select(&queues, &placeholder, &event.selector.as_str())
            .ok_or_else(|| GatewayError::NoRoute {
                topic: event.topic.clone(),
            })?;
        Ok((queue.broker_name().to_string(), queue.queue_id()))
    }

    /// Sends the longest prefix of `events` (all of one topic, in order) that stays within
    /// `max_batch_bytes` (estimated encoded size; at least the first event, however large) as one
    /// `send_batch_to_queue` call to queue `queue_id` of `broker`, as [`Producer::queue_of`]
    /// answered, and waits for the broker's answer.
    ///
    /// `Ok` only for `SEND_OK`, with a receipt per event of the prefix, in order: its length says
    /// how many events were sent (docs/relay-ordering.md). On `Err` the batch may or may not have
    /// been stored: send these events again, before anything later of that queue.
    #[instrument(skip_all, fields(producer_group = %self.group, queue_id, events))]
    pub async fn send_to_queue(
        &self,
        broker: &str,
        queue_id: i32,
        events: &[OutgoingEvent],
        max_batch_bytes: usize,
    ) -> Result<Vec<SendReceipt>, GatewayError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let mut total = 0;
        let mut batch = Vec::new();
        for event in events {
            let size = estimated_size(event);
            if !batch.is_empty() && total + size > max_batch_bytes {
                break;
            }
            if event.topic != first.topic {
                return Err(GatewayError::SendTask {
                    reason: format!(
                        "one batch for two topics: {} and {}",
                        first.topic, event.topic
                    ),
                });
            }
            total += size;
            batch.push(encode_message(event)?);
        }
        tracing::Span::current().record("events", batch.len());
        let queue = MessageQueue::from_parts(first.topic.as_str(), broker, queue_id);
        send_batch(&self.inner, &first.topic, queue, batch).await
    }

    /// The topic's publish queues in the order the client's selector sees them, cached for
    /// [`QUEUE_LIST_TTL`].
    async fn publish_queues(&self, topic: &str) -> Result<Arc<Vec<MessageQueue>>, GatewayError> {
        if let Some((fetched, queues)) = self.cached_queues(topic)
            && fetched.elapsed() < QUEUE_LIST_TTL
        {
            return Ok(queues);
        }
        // The fetch needs `&mut`; a clone shares the producer's state.
        let mut producer = self.inner.clone();
        let queues = producer
            .fetch_publish_message_queues(topic)
            .await
            .map_err(GatewayError::client("fetch publish queues"))?;
        if queues.is_empty() {
            return Err(GatewayError::NoRoute {
                topic: topic.to_owned(),
            });
        }
        let queues = Arc::new(queues);
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_owned(), (Instant::now(), Arc::clone(&queues)));
        Ok(queues)
    }

    fn cached_queues(&self, topic: &str) -> Option<CachedQueues> {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(topic)
            .map(|(fetched, queues)| (*fetched, Arc::clone(queues)))
    }

    /// Stops the producer and releases its share of the client instance.
    pub async fn shutdown(mut self) {
        self.inner.shutdown().await;
    }
}

/// `event` as a client message.
fn encode_message(event: &OutgoingEvent) -> Result<Message, GatewayError> {
    let pairs = event.property_pairs();
    build_message(
        &event.topic,
        &event.tag,
        &event.key,
        event.body.clone(),
        &pairs,
    )
    .map_err(|source| GatewayError::InvalidMessage {
        topic: event.topic.clone(),
        source,
    })
}

fn build_message(
    topic: &str,
    tag: &str,
    key: &str,
    body: Vec<u8>,
    properties: &[(&str, &str)],
) -> Result<Message, ClientError> {
    let mut builder = Message::builder().topic(topic).body(body);
    if !tag.is_empty() {
        builder = builder.tags(tag);
    }
    if !key.is_empty() {
        builder = builder.key(key);
    }
    for (name, value) in properties {
        builder = builder.raw_property(*name, *value)?;
    }
    Ok(builder.build()?)
}
