//! One orderly RocketMQ consumer per projection, bridging the client's synchronous listener to
//! the runtime's async work.
//!
//! **Invariants.**
//! - Each projection is its own consumer group `<group_prefix>-<name>` (clustering: the group's
//!   members share the queues; each queue, hence each stream, is handled by one member at a
//!   time, in order), subscribed to the topic of each of its categories, all tags.
//! - The handler gets up to `batch_size` consecutive messages of one queue at once (as many as
//!   are ready: no waiting to fill a batch) and answers "done" only once every event of them is
//!   applied, recognized as a duplicate, or parked; otherwise "retry later", the queue waits and
//!   the whole batch comes again (`handle.rs`). The client's local retry limit is set
//!   so high that it never hands a message to the broker's retry topic (which would take it out
//!   of stream order): the runtime bounds retries itself and parks.
//!
//! **Why `block_on` is safe here.** The client calls the listener on a blocking-pool thread of
//! its own runtime, never on an async worker thread, and waits for the answer before it offers
//! that queue's next message. Blocking that thread on a future run by the application's runtime
//! (captured [`tokio::runtime::Handle`], where the database pool and Redis connection live)
//! neither stalls an executor nor nests runtimes: the future is driven on the calling thread and
//! its I/O by the application runtime's driver.

use std::sync::Arc;

use rocketmq::{
    BrokerClient, EventTopics, OrderlyConsumer, OrderlyConsumerConfig, ReceivedMessage,
};

use super::{ProjectionRuntime, RuntimeError};
use crate::Projection;

/// The consumer group of projection `name`.
pub fn consumer_group(group_prefix: &str, name: &str) -> String {
    format!("{group_prefix}-{name}")
}

/// Starts one orderly consumer per projection on `broker`, handing batches of up to
/// `batch_size` messages of one queue to [`ProjectionRuntime::handle_messages`]. Must be called inside the application's Tokio runtime
/// (its handle is captured). Shut the consumers down before the broker client.
pub async fn start_consumers(
    runtime: &Arc<ProjectionRuntime>,
    broker: &BrokerClient,
    topics: &EventTopics,
    group_prefix: &str,
    batch_size: u32,
    projections: &[Projection],
) -> Result<Vec<OrderlyConsumer>, RuntimeError> {
    let app = tokio::runtime::Handle::current();
    let mut consumers = Vec::with_capacity(projections.len());
    for projection in projections {
        let mut config = OrderlyConsumerConfig::for_topics(
            consumer_group(group_prefix, projection.name()),
            projection.categories().iter().map(|c| topics.topic(c)),
        );
        // Never hand a message to the broker's retry topic: that would break stream order.
        config.max_local_retries = i32::MAX as u32;
        config.batch_size = batch_size.max(1);
        config.retry_delay = runtime
            .policy()
            .retry_delay
            .max(std::time::Duration::from_millis(10));
        let runtime = Arc::clone(runtime);
        let handler_projection = projection.clone();
        let app = app.clone();
        let started = broker
            .start_orderly_batch_consumer(config, move |messages: &[ReceivedMessage]| {
                app.block_on(runtime.handle_messages(&handler_projection, messages))
            })
            .await;
        match started {
            Ok(consumer) => consumers.push(consumer),
            Err(error) => {
                for consumer in consumers {
                    consumer.shutdown().await;
                }
                return Err(error.into());
            }
        }
        tracing::info!(projection = projection.name(), "consumer started");
    }
    Ok(consumers)
}
