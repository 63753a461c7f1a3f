//! Shared access to the RocketMQ broker for the relay and the projections.
//!
//! The RocketMQ client does not create its own Tokio runtime: [`BrokerClient`] owns one (a
//! `RuntimeOwner` plus the client's `ClientRuntime`) and every producer and consumer built here
//! runs on it. The pieces:
//!
//! - [`BrokerClient`]: the runtime, explicit topic creation ([`BrokerClient::create_topic`]) and
//!   the factories for producers and consumers;
//! - [`Producer::send_ordered`]: per-stream ordered sends (the stream id picks the queue) that
//!   succeed only when the broker answers `SEND_OK`;
//! - [`OrderlyConsumer`]: a push consumer that delivers each queue's messages one at a time, in
//!   queue order, to a synchronous [`OrderlyHandler`].
//!
//! Shut down in this order: consumers and producers first, then [`BrokerClient::shutdown`].
//!
//! The RocketMQ client futures are deep state machines; crates that await them need a raised
//! recursion limit (the client's own examples use 256 and 512).
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

mod client;
mod consumer;
mod error;
mod event_message;
mod producer;
mod topic;

pub use client::{BrokerClient, BrokerClientConfig, HANDLER_SLOTS};
pub use consumer::{
    ConsumeOutcome, OrderlyBatchHandler, OrderlyConsumer, OrderlyConsumerConfig, OrderlyHandler,
    ReceivedMessage,
};
pub use error::GatewayError;
pub use event_message::{DecodeError, EventTopics, OutgoingEvent, decode_event, property};
pub use producer::{Producer, SendReceipt};
