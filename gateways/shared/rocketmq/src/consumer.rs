//! Orderly push consumption: each queue's messages reach a synchronous handler in queue order,
//! one at a time ([`OrderlyHandler`]) or in batches of consecutive messages of one queue
//! ([`OrderlyBatchHandler`]), so the events of one stream (one queue) are handled in send order.
//!
//! Handlers are synchronous: see [`OrderlyHandler`] for how to bridge them to async code.
//!
//! # Delivery
//!
//! At least once: offsets reach the broker every ~5 s, so after a crash the last messages come
//! again. Handlers must be idempotent.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rocketmq_client_rust::{
    ClientConfig, ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQPushConsumer,
    MQPushConsumer, MessageListenerOrderly,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::STRING_HASH_SET;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::{MessageConst, MessageTrait};

use crate::client::BrokerClient;
use crate::error::GatewayError;

/// What an orderly consumer subscribes to and how it retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderlyConsumerConfig {
    /// The consumer group: its members share the topics' queues and their committed offsets.
    pub consumer_group: String,
    /// The topics to consume, each with its tag filter (`*` for all, or `TagA || TagB`). One
    /// consumer, hence one group, may read several topics: a projection reads every category it
    /// needs. Each queue of each topic is still handed over one message at a time, in order.
    /// An empty list starts a consumer that receives nothing.
    pub subscriptions: Vec<(String, String)>,
    /// How many times a message answered with [`ConsumeOutcome::RetryLater`] is retried in
    /// place, holding back the rest of its queue, before the client hands it to the broker's
    /// retry and dead-letter handling (`%RETRY%<group>`, `%DLQ%<group>`) and moves on. That
    /// hand-over takes the message out of stream order: a handler that must keep order parks the
    /// message itself (and the rest of its stream) and answers [`ConsumeOutcome::Done`] before
    /// this limit is reached, or sets this limit so high it is never reached. (The client's own
    /// default retries in place forever.)
    pub max_local_retries: u32,
    /// How long a queue pauses before a message answered with [`ConsumeOutcome::RetryLater`] is
    /// offered again (the client clamps it to 10 ms..=30 s).
    pub retry_delay: Duration,
    /// Most messages handed to an [`OrderlyBatchHandler`] at once: consecutive messages of one
    /// queue, as many as the client has ready (no waiting to fill a batch). Also the pull size.
    /// A per-message [`OrderlyHandler`] always gets one at a time.
    pub batch_size: u32,
}

impl OrderlyConsumerConfig {
    /// All tags of `topic` for `consumer_group`; 16 local retries one second apart.
    pub fn new(consumer_group: impl Into<String>, topic: impl Into<String>) -> Self {
        Self::for_topics(consumer_group, [topic])
    }

    /// All tags of each of `topics` for `consumer_group`; 16 local retries one second apart.
    pub fn for_topics<T: Into<String>>(
        consumer_group: impl Into<String>,
        topics: impl IntoIterator<Item = T>,
    ) -> Self {
        Self {
            consumer_group: consumer_group.into(),
            subscriptions: topics
                .into_iter()
                .map(|topic| (topic.into(), "*".to_owned()))
                .collect(),
            max_local_retries: 16,
            retry_delay: Duration::from_secs(1),
            batch_size: 1,
        }
    }

    /// Filters every subscribed topic on a tag expression such as `TagA || TagB`.
    #[must_use]
    pub fn with_tags(mut self, tag_expression: impl Into<String>) -> Self {
        let tag_expression = tag_expression.into();
        for (_, tags) in &mut self.subscriptions {
            tags.clone_from(&tag_expression);
        }
        self
    }

    /// Also consumes `topic`, filtered on `tag_expression`.
    #[must_use]
    pub fn with_topic(
        mut self,
        topic: impl Into<String>,
        tag_expression: impl Into<String>,
    ) -> Self {
        self.subscriptions
            .push((topic.into(), tag_expression.into()));
        self
    }
}

/// A handler's verdict on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// Handled (or deliberately skipped or parked): move on to the queue's next message.
    Done,
    /// Not handled, try again after the configured delay; the queue waits meanwhile.
    RetryLater,
}

/// Handles one message at a time, for [`BrokerClient::start_orderly_consumer`].
///
/// Implemented for every `Fn(&ReceivedMessage) -> ConsumeOutcome + Send + Sync + 'static`.
///
/// # Handlers are synchronous
///
/// The client calls the handler on a blocking thread of the client's runtime, never on an
/// async worker, and waits for the answer before it hands over the next message of that queue.
/// Those threads come from the client runtime's metadata-I/O lane, shared by all queues and
/// with the client's own metadata I/O; [`BrokerClient::new`] sizes it for a handler per queue
/// ([`crate::HANDLER_SLOTS`] in all), so a slow handler holds back only its own queue.
/// To do async work (a database write, a Redis call), bridge deliberately:
///
/// - capture a [`tokio::runtime::Handle`] of the application's runtime, where its pools and
///   connections live, and `block_on` the work inside the handler (allowed on blocking
///   threads; the integration tests do this), or
/// - send the message with a [`tokio::sync::oneshot`] reply channel over an mpsc channel to an
///   async task and wait with `blocking_recv`: one task then owns the async resources.
///
/// ```no_run
/// # async fn example(client: rocketmq::BrokerClient) -> Result<(), rocketmq::GatewayError> {
/// use rocketmq::{ConsumeOutcome, OrderlyConsumerConfig, ReceivedMessage};
///
/// let app = tokio::runtime::Handle::current();
/// let config = OrderlyConsumerConfig::new("cart-projection", "commerce-events");
/// let consumer = client
///     .start_orderly_consumer(config, move |message: &ReceivedMessage| {
///         let applied = app.block_on(async {
///             // apply `message` to the read model, idempotently
///             let _ = &message.body;
///             Ok::<(), std::io::Error>(())
///         });
///         match applied {
///             Ok(()) => ConsumeOutcome::Done,
///             Err(_) => ConsumeOutcome::RetryLater,
///         }
///     })
///     .await?;
/// # consumer.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub trait OrderlyHandler: Send + Sync + 'static {
    /// Handles `message`. Called on a blocking thread; may block.
    fn handle(&self, message: &ReceivedMessage) -> ConsumeOutcome;
}

impl<F> OrderlyHandler for F
where
    F: Fn(&ReceivedMessage) -> ConsumeOutcome + Send + Sync + 'static,
{
    fn handle(&self, message: &ReceivedMessage) -> ConsumeOutcome {
        self(message)
    }
}

/// Handles consecutive messages of one queue at once, for
/// [`BrokerClient::start_orderly_batch_consumer`]. Synchronous like [`OrderlyHandler`] (bridge to
/// async code the same way).
///
/// [`ConsumeOutcome::Done`] acknowledges the whole batch; [`ConsumeOutcome::RetryLater`] offers
/// the whole batch again after the retry delay (the queue waits meanwhile), so a handler that
/// answers it after handling part of the batch must recognize those messages when they come
/// again (it must be idempotent anyway: delivery is at least once).
///
/// Implemented for every `Fn(&[ReceivedMessage]) -> ConsumeOutcome + Send + Sync + 'static`.
pub trait OrderlyBatchHandler: Send + Sync + 'static {
    /// Handles `messages`, consecutive in their queue. Called on a blocking thread; may block.
    fn handle_batch(&self, messages: &[ReceivedMessage]) -> ConsumeOutcome;
}

impl<F> OrderlyBatchHandler for F
where
    F: Fn(&[ReceivedMessage]) -> ConsumeOutcome + Send + Sync + 'static,
{
    fn handle_batch(&self, messages: &[ReceivedMessage]) -> ConsumeOutcome {
        self(messages)
    }
}

/// A per-message handler as a batch handler that is given one message at a time.
struct EachMessage<H>(H);

impl<H: OrderlyHandler> OrderlyBatchHandler for EachMessage<H> {
    fn handle_batch(&self, messages: &[ReceivedMessage]) -> ConsumeOutcome {
        for message in messages {
            if self.0.handle(message) == ConsumeOutcome::RetryLater {
                return ConsumeOutcome::RetryLater;
            }
        }
        ConsumeOutcome::Done
    }
}

/// A consumed message, copied out of the client's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The topic (the original one, also when redelivered from the retry topic).
    pub topic: String,
    /// The tag, if the message had one.
    pub tag: Option<String>,
    /// The message keys.
    pub keys: Vec<String>,
    /// User properties only; RocketMQ's own properties are left out.
    pub properties: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// The message id the producer's client assigned (`UNIQ_KEY`), as in [`SendReceipt`].
    ///
    /// [`SendReceipt`]: crate::SendReceipt
    pub msg_id: String,
    /// The queue it was read from.
    pub queue_id: i32,
    /// Its offset within that queue.
    pub queue_offset: i64,
    /// How many times it was handed back before this delivery.
    pub reconsume_times: i32,
}

impl ReceivedMessage {
    fn from_ext(message: &MessageExt) -> Self {
        Self {
            topic: message.topic().to_string(),
            tag: message.get_tags().map(|tag| tag.to_string()),
            keys: message
                .get_keys()
                .map(|keys| {
                    keys.as_str()
                        .split(' ')
                        .filter(|key| !key.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            properties: message
                .properties()
                .iter()
                .filter(|(name, _)| !STRING_HASH_SET.contains(name.as_str()))
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: message.body().map(|body| body.to_vec()).unwrap_or_default(),
            // Like Java's `MessageClientExt::getMsgId`: the id the producer's client assigned
            // (and got back in its send result), not the broker's offset message id.
            msg_id: message
                .properties()
                .get(MessageConst::PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
                .unwrap_or_else(|| message.msg_id())
                .to_string(),
            queue_id: message.queue_id(),
            queue_offset: message.queue_offset(),
            reconsume_times: message.reconsume_times(),
        }
    }
}

/// A started orderly push consumer.
pub struct OrderlyConsumer {
    inner: DefaultMQPushConsumer,
    group: String,
}

impl fmt::Debug for OrderlyConsumer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OrderlyConsumer")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl BrokerClient {
    /// Starts an orderly push consumer (clustering mode) that hands each message to `handler`.
    ///
    /// A group without committed offsets starts at the first offset of every queue (not at the
    /// end, the client's default), so nothing produced before the consumer's first start is
    /// skipped; a group with committed offsets resumes from them.
    pub async fn start_orderly_consumer<H: OrderlyHandler>(
        &self,
        config: OrderlyConsumerConfig,
        handler: H,
    ) -> Result<OrderlyConsumer, GatewayError> {
        let config = OrderlyConsumerConfig {
            // One message per call, so a retry repeats only the message that failed.
            batch_size: 1,
            ..config
        };
        self.start_orderly_batch_consumer(config, EachMessage(handler))
            .await
    }

    /// Like [`BrokerClient::start_orderly_consumer`], handing `handler` up to
    /// `config.batch_size` consecutive messages of one queue at once.
    pub async fn start_orderly_batch_consumer<H: OrderlyBatchHandler>(
        &self,
        config: OrderlyConsumerConfig,
        handler: H,
    ) -> Result<OrderlyConsumer, GatewayError> {
        let batch_size = config.batch_size.max(1);
        let retry_delay_ms = u64::try_from(config.retry_delay.as_millis()).unwrap_or(u64::MAX);
        let mut builder = DefaultMQPushConsumer::builder(self.client_runtime());
        if let Some(name) = &self.config.instance_name {
            // Before the name server: a whole client config replaces the builder's.
            let mut client = ClientConfig::default();
            client.set_instance_name(name.as_str().into());
            builder = builder.client_config(client);
        }
        let mut inner = builder
            .consumer_group(config.consumer_group.as_str())
            .name_server_addr(self.config.name_server.as_str())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(batch_size)
            // Pull at least a batch at a time (the client's default pull size is 32).
            .pull_batch_size(batch_size.max(32))
            // The client's default (-1) retries a failing message in place forever.
            .max_reconsume_times(i32::try_from(config.max_local_retries).unwrap_or(i32::MAX))
            .suspend_current_queue_time_millis(retry_delay_ms)
            .build();
        for (topic, tags) in &config.subscriptions {
            inner
                .subscribe(topic.as_str(), normalize_tag_expression(tags))
                .await
                .map_err(GatewayError::client("subscribe"))?;
        }
        inner.register_message_listener_orderly(Listener {
            group: config.consumer_group.clone(),
            handler,
        });
        inner
            .start()
            .await
            .map_err(GatewayError::client("start consumer"))?;
        tracing::debug!(
            consumer_group = %config.consumer_group,
            subscriptions = ?config.subscriptions,
            "orderly consumer started"
        );
        Ok(OrderlyConsumer {
            inner,
            group: config.consumer_group,
        })
    }
}

impl OrderlyConsumer {
    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Stops pulling, persists the consumed offsets and unlocks this consumer's queues, so
    /// another member can take them over without waiting for the locks to expire.
    pub async fn shutdown(mut self) {
        self.inner.shutdown().await;
    }
}

/// Removes the blanks around `||` in a tag expression.
///
/// The client (rocketmq-protocol 1.0.0, `FilterAPI::build_subscription_data`) trims each tag for
/// the tag set but hashes the *untrimmed* tag for the code set the broker filters on, so
/// `"A || B"` matches nothing on the broker side while `"A||B"` works.
fn normalize_tag_expression(expression: &str) -> String {
    let tags: Vec<&str> = expression
        .split("||")
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .collect();
    if tags.is_empty() {
        "*".to_owned()
    } else {
        tags.join("||")
    }
}

/// Adapts an [`OrderlyHandler`] to the client's listener trait.
struct Listener<H> {
    group: String,
    handler: H,
}

impl<H: OrderlyBatchHandler> MessageListenerOrderly for Listener<H> {
    fn consume_message(
        &self,
        messages: &[&MessageExt],
        _context: &mut ConsumeOrderlyContext,
    ) -> ClientResult<ConsumeOrderlyStatus> {
        let received: Vec<ReceivedMessage> = messages
            .iter()
            .map(|message| ReceivedMessage::from_ext(message))
            .collect();
        let Some(first) = received.first() else {
            return Ok(ConsumeOrderlyStatus::Success);
        };
        // The handler's own events carry the batch's coordinates.
        let _span = tracing::info_span!(
            "consume",
            consumer_group = %self.group,
            topic = %first.topic,
            queue_id = first.queue_id,
            first_offset = first.queue_offset,
            messages = received.len(),
            msg_id = %first.msg_id,
            reconsume_times = first.reconsume_times,
        )
        .entered();
        if self.handler.handle_batch(&received) == ConsumeOutcome::RetryLater {
            tracing::debug!("batch will be retried");
            // The queue pauses for the consumer's suspend time, then offers the batch again.
            return Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment);
        }
        Ok(ConsumeOrderlyStatus::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_tag_expression;

    #[test]
    fn tag_expressions_lose_the_blanks_the_client_would_hash() {
        assert_eq!(
            normalize_tag_expression("CartEvent || SkuEvent"),
            "CartEvent||SkuEvent"
        );
        assert_eq!(normalize_tag_expression(" CartEvent "), "CartEvent");
    }

    #[test]
    fn blank_or_wildcard_tag_expressions_subscribe_to_every_tag() {
        assert_eq!(normalize_tag_expression("*"), "*");
        assert_eq!(normalize_tag_expression("  "), "*");
        assert_eq!(normalize_tag_expression(""), "*");
    }
}
