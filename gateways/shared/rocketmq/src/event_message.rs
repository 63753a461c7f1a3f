//! How an event of the log travels through RocketMQ: the contract between the relay (which
//! encodes) and the projections (which decode).
//!
//! # Layout
//! - **Topic**: one per bounded context: events of category `c` (stream `c-…`) go to
//!   `<prefix>-<c>`, e.g. `commerce-cart`. See [`EventTopics`].
//! - **Tag**: the event type (`StockReserved`), so a consumer may filter on types.
//! - **Queue**: chosen by hashing the stream id ([`OutgoingEvent::selector`]): every event of one
//!   stream lands on one queue, in log order.
//! - **Key**: the event id (the broker indexes keys: look a message up by event id).
//! - **Properties**: global position, transaction id, stream id, version, correlation and
//!   causation ids, trace context ([`property`]), so tools can route and trace without parsing
//!   the body.
//! - **Body**: the [`RecordedEvent`] as JSON, exactly as the log holds it.

use event_store::RecordedEvent;

use crate::ReceivedMessage;

/// Names of the user properties every event message carries.
pub mod property {
    /// Global position in the log.
    pub const POSITION: &str = "event_position";
    /// Id of the transaction that appended the event (with the position: the `$all` order).
    pub const TX_ID: &str = "event_tx_id";
    /// The stream the event belongs to.
    pub const STREAM_ID: &str = "stream_id";
    /// The event's version within its stream.
    pub const VERSION: &str = "stream_version";
    /// Correlation id (one user action across services); absent when the event has none.
    pub const CORRELATION_ID: &str = "correlation_id";
    /// Causation id (the command or event that caused this one); absent when none.
    pub const CAUSATION_ID: &str = "causation_id";
    /// W3C trace context of the request that appended the event; absent when none.
    pub const TRACEPARENT: &str = "traceparent";
}

/// Topic names for event categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTopics {
    prefix: String,
}

impl EventTopics {
    /// Topics named `<prefix>-<category>`. Tests pass a prefix of their own so parallel tests on
    /// one broker do not see each other's messages.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The topic events of `category` travel on.
    pub fn topic(&self, category: &str) -> String {
        format!("{}-{category}", self.prefix)
    }

    /// The prefix topics start with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// One event, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// The topic of the event's category (see [`EventTopics`]).
    pub topic: String,
    /// The event type.
    pub tag: String,
    /// The event id.
    pub key: String,
    /// The stream id: hash it to choose the queue.
    pub selector: String,
    /// The JSON envelope: the [`RecordedEvent`] as stored.
    pub body: Vec<u8>,
    /// User properties consumers can filter on without decoding the body.
    pub properties: Vec<(&'static str, String)>,
}

impl OutgoingEvent {
    /// Encodes `event` for its category's topic.
    pub fn encode(topics: &EventTopics, event: &RecordedEvent) -> Self {
        let mut properties = vec![
            (property::POSITION, event.position.to_string()),
            (property::TX_ID, event.tx_id.to_string()),
            (property::STREAM_ID, event.stream_id.to_string()),
            (property::VERSION, event.version.to_string()),
        ];
        let meta = &event.metadata;
        if let Some(id) = meta.correlation_id {
            properties.push((property::CORRELATION_ID, id.to_string()));
        }
        if let Some(id) = meta.causation_id {
            properties.push((property::CAUSATION_ID, id.to_string()));
        }
        if let Some(trace) = &meta.traceparent {
            properties.push((property::TRACEPARENT, trace.clone()));
        }
        Self {
            topic: topics.topic(event.stream_id.category()),
            tag: event.event_type.clone(),
            key: event.event_id.to_string(),
            selector: event.stream_id.to_string(),
            // A RecordedEvent always serializes: its data and metadata are JSON already.
            body: serde_json::to_vec(event).expect("a recorded event serializes to JSON"),
            properties,
        }
    }

    /// The properties as borrowed pairs, as [`crate::Producer::send_ordered`] takes them.
    pub fn property_pairs(&self) -> Vec<(&str, &str)> {
        self.properties
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect()
    }
}

/// Why a consumed message is not an event of ours. Retrying does not help: park it.
#[derive(Debug, thiserror::Error)]
#[error("message {msg_id} on {topic} is not an event envelope: {source}")]
pub struct DecodeError {
    /// The broker's id of the message, to find it again.
    pub msg_id: String,
    /// The topic it was consumed from.
    pub topic: String,
    /// Why the body is not an envelope.
    #[source]
    pub source: serde_json::Error,
}

/// Decodes the event a consumed message carries.
pub fn decode_event(message: &ReceivedMessage) -> Result<RecordedEvent, DecodeError> {
    serde_json::from_slice(&message.body).map_err(|source| DecodeError {
        msg_id: message.msg_id.clone(),
        topic: message.topic.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use event_store::{EventMetadata, StreamId};
    use uuid::Uuid;

    use super::*;

    fn event() -> RecordedEvent {
        RecordedEvent {
            position: 42,
            tx_id: 7_000,
            stream_id: StreamId::parse("cart-0b7e-11").unwrap(),
            version: 3,
            event_id: Uuid::new_v4(),
            event_type: "ItemAdded".to_owned(),
            schema_version: 1,
            data: serde_json::json!({"sku": "s-1", "quantity": 2}),
            metadata: EventMetadata {
                correlation_id: Some(Uuid::new_v4()),
                traceparent: Some("00-abc-def-01".to_owned()),
                ..EventMetadata::default()
            },
            recorded_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_event_goes_to_its_category_topic_keyed_by_event_id_and_hashed_by_stream() {
        let event = event();
        let out = OutgoingEvent::encode(&EventTopics::new("commerce"), &event);
        assert_eq!(out.topic, "commerce-cart");
        assert_eq!(out.tag, "ItemAdded");
        assert_eq!(out.key, event.event_id.to_string());
        assert_eq!(out.selector, "cart-0b7e-11");
        let props: BTreeMap<_, _> = out.properties.iter().cloned().collect();
        assert_eq!(props[property::POSITION], "42");
        assert_eq!(props[property::VERSION], "3");
        assert_eq!(props[property::STREAM_ID], "cart-0b7e-11");
        assert!(props.contains_key(property::CORRELATION_ID));
        assert!(!props.contains_key(property::CAUSATION_ID));
    }

    #[test]
    fn the_body_decodes_back_to_the_recorded_event() {
        let event = event();
        let out = OutgoingEvent::encode(&EventTopics::new("t"), &event);
        let received = ReceivedMessage {
            topic: out.topic.clone(),
            tag: Some(out.tag.clone()),
            keys: vec![out.key.clone()],
            properties: BTreeMap::new(),
            body: out.body.clone(),
            msg_id: "m".to_owned(),
            queue_id: 0,
            queue_offset: 0,
            reconsume_times: 0,
        };
        assert_eq!(decode_event(&received).unwrap(), event);
        let garbage = ReceivedMessage {
            body: b"{\"not\":\"an event\"}".to_vec(),
            ..received
        };
        assert!(decode_event(&garbage).is_err());
    }

    /// A consumed message carrying `body`.
    fn received(body: Vec<u8>) -> ReceivedMessage {
        ReceivedMessage {
            topic: "t-cart".to_owned(),
            tag: None,
            keys: Vec::new(),
            properties: BTreeMap::new(),
            body,
            msg_id: "m".to_owned(),
            queue_id: 0,
            queue_offset: 0,
            reconsume_times: 0,
        }
    }

    proptest::proptest! {
        #[test]
        fn any_body_decodes_to_an_event_or_a_typed_error(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let _ = decode_event(&received(body));
        }

        #[test]
        fn an_envelope_with_one_byte_changed_decodes_or_fails_typed(
            at in proptest::prelude::any::<proptest::sample::Index>(),
            byte in proptest::prelude::any::<u8>(),
        ) {
            let mut body = OutgoingEvent::encode(&EventTopics::new("t"), &event()).body;
            let index = at.index(body.len());
            body[index] = byte;
            let _ = decode_event(&received(body));
        }
    }
}
