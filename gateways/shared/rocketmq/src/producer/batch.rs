//! Batched sends to one queue: grouping, splitting by size, and per-message receipts.

use std::sync::Arc;

use rocketmq_client_rust::{DefaultMQProducer, SendResult, SendStatus};
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use tokio::sync::Semaphore;

use super::SendReceipt;
use crate::error::GatewayError;
use crate::event_message::OutgoingEvent;

/// Bytes counted per message on top of body, tag, key and properties (flags, lengths, topic).
const MESSAGE_OVERHEAD_BYTES: usize = 64;

/// The messages of one call bound for one queue, in input order: (input index, estimated
/// size, message).
pub(super) struct QueueGroup {
    pub(super) topic: String,
    pub(super) queue: MessageQueue,
    pub(super) messages: Vec<(usize, usize, Message)>,
}

/// Sends one queue's messages as consecutive batches, each after the previous one was
/// acknowledged, and returns a receipt per message with its input index.
pub(super) async fn send_group(
    producer: DefaultMQProducer,
    group: QueueGroup,
    max_batch_bytes: usize,
    permits: Arc<Semaphore>,
) -> Result<Vec<(usize, SendReceipt)>, GatewayError> {
    let QueueGroup {
        topic,
        queue,
        messages,
    } = group;
    let sizes: Vec<usize> = messages.iter().map(|(_, size, _)| *size).collect();
    let mut messages = messages.into_iter();
    let mut receipts = Vec::with_capacity(sizes.len());
    for range in split_by_bytes(&sizes, max_batch_bytes) {
        let (indices, batch): (Vec<usize>, Vec<Message>) = messages
            .by_ref()
            .take(range.len())
            .map(|(index, _, message)| (index, message))
            .unzip();
        let _permit = permits
            .acquire()
            .await
            .map_err(|_| GatewayError::SendTask {
                reason: "send permits closed".to_owned(),
            })?;
        let batch_receipts = send_batch(&producer, &topic, queue.clone(), batch).await?;
        receipts.extend(indices.iter().copied().zip(batch_receipts));
    }
    Ok(receipts)
}

/// Sends `batch` to `queue` of `topic` as one request; a receipt per message, in order, only if
/// the broker answered `SEND_OK`.
pub(super) async fn send_batch(
    producer: &DefaultMQProducer,
    topic: &str,
    queue: MessageQueue,
    batch: Vec<Message>,
) -> Result<Vec<SendReceipt>, GatewayError> {
    let count = batch.len();
    let result = producer
        .send_batch_to_queue(batch, queue)
        .await
        .map_err(GatewayError::client("send batch"))?;
    batch_receipts(topic, count, result)
}

/// One receipt per message of an acknowledged batch: the broker answers the comma-separated
/// client ids and the offset of the batch's first message.
fn batch_receipts(
    topic: &str,
    count: usize,
    result: SendResult,
) -> Result<Vec<SendReceipt>, GatewayError> {
    if result.send_status != SendStatus::SendOk {
        return Err(GatewayError::NotAcknowledged {
            topic: topic.to_owned(),
            status: Some(result.send_status),
        });
    }
    let ids: Vec<&str> = result
        .msg_id
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .collect();
    let queue_id = result
        .message_queue
        .as_ref()
        .map_or(-1, MessageQueue::queue_id);
    Ok((0..count)
        .map(|i| SendReceipt {
            msg_id: ids.get(i).copied().unwrap_or_default().to_owned(),
            queue_id,
            queue_offset: result.queue_offset + i as u64,
        })
        .collect())
}

/// The encoded size of `event`, roughly: body, tag, key, topic and properties plus a fixed
/// overhead per message.
pub(super) fn estimated_size(event: &OutgoingEvent) -> usize {
    let properties: usize = event
        .properties
        .iter()
        .map(|(name, value)| name.len() + value.len() + 2)
        .sum();
    event.body.len()
        + event.tag.len()
        + event.key.len()
        + event.topic.len()
        + properties
        + MESSAGE_OVERHEAD_BYTES
}

/// Consecutive ranges of `sizes` whose sums stay within `max_bytes`; an item larger than
/// `max_bytes` gets a range of its own. Every item is in exactly one range, in order.
fn split_by_bytes(sizes: &[usize], max_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut total = 0;
    for (index, size) in sizes.iter().enumerate() {
        if index > start && total + size > max_bytes {
            ranges.push(start..index);
            start = index;
            total = 0;
        }
        total += size;
    }
    if start < sizes.len() {
        ranges.push(start..sizes.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use rocketmq_client_rust::{JavaHashCode, MessageQueueSelector, SelectMessageQueueByHash};

    use super::*;

    #[test]
    fn batches_stay_within_the_byte_limit_and_keep_every_item_in_order() {
        assert_eq!(split_by_bytes(&[4, 4, 4, 4, 4], 8), vec![0..2, 2..4, 4..5]);
        assert_eq!(split_by_bytes(&[3, 20, 3], 8), vec![0..1, 1..2, 2..3]);
        assert_eq!(split_by_bytes(&[1, 1, 1], 100), vec![0..3]);
        assert!(split_by_bytes(&[], 8).is_empty());
    }

    #[test]
    fn the_hash_selector_picks_the_absolute_java_hash_modulo_the_queue_count() {
        let queues: Vec<MessageQueue> = (0..8)
            .map(|id| MessageQueue::from_parts("t", "broker-a", id))
            .collect();
        let message = Message::builder().topic("t").body(vec![1]).build().unwrap();
        // Includes ids whose Java hash is negative.
        for stream in [
            "cart-1",
            "order-0b7e-11",
            "customer-zzzzzzzzzz",
            "product-ü",
        ] {
            let expected = (i64::from(stream.java_hash_code()) % 8).unsigned_abs() as i32;
            let chosen = SelectMessageQueueByHash.select(&queues, &message, &stream);
            assert_eq!(
                chosen.map(|queue| queue.queue_id()),
                Some(expected),
                "{stream}"
            );
        }
    }
}
