//! Producing with per-stream order: every message of one stream goes to the same queue.

use std::fmt;

use rocketmq_client_rust::{
    ClientError, DefaultMQProducer, MessageQueueSelector, SelectMessageQueueByHash, SendStatus,
};
use rocketmq_model::common::message::message_single::Message;
use tracing::instrument;

use crate::client::BrokerClient;
use crate::error::GatewayError;

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

/// A started producer of one producer group.
pub struct Producer {
    inner: DefaultMQProducer,
    group: String,
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
                        .map_or(-1, |queue| queue.queue_id()),
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

    /// Stops the producer and releases its share of the client instance.
    pub async fn shutdown(mut self) {
        self.inner.shutdown().await;
    }
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
