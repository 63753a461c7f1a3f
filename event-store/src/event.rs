//! Events going into the log ([`NewEvent`]) and coming out of it ([`RecordedEvent`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{AllPosition, StreamId};

/// Who and what caused an event; stored as a JSON object beside the event.
///
/// `correlation_id` ties together everything one user action caused, across services;
/// `causation_id` is the id of the command or event that directly caused this one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The user action this event is part of; shared by every event and command it caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The command or event that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The authenticated caller (a customer id, `admin:<name>`, or a service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The command that appended the event; a retried command is recognised by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Uuid>,
    /// A hash of the canonical request of the command that appended the event (see
    /// `docs/command-fingerprints.md`): a re-sent command id with another fingerprint is not a
    /// retry but a different request, and is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_fingerprint: Option<String>,
    /// W3C trace context (`traceparent`) of the request that appended the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Anything else a writer attached; kept as written.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An event to append. The caller chooses the id: appending the same id again is a no-op that
/// returns the original result, which is what makes retries safe.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Chosen by the caller; the idempotency key of the append.
    pub event_id: Uuid,
    /// Past-tense name, e.g. `StockReserved`.
    pub event_type: String,
    /// Version of the payload's shape, from 1; readers upcast older shapes.
    pub schema_version: i32,
    /// The payload; must be a JSON object.
    pub data: Value,
    /// Why and by whom the event was appended.
    pub metadata: EventMetadata,
}

impl NewEvent {
    /// An event with a fresh random id, schema version 1 and empty metadata.
    pub fn new(event_type: impl Into<String>, data: Value) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            event_type: event_type.into(),
            schema_version: 1,
            data,
            metadata: EventMetadata::default(),
        }
    }

    /// Replaces the random id with a deterministic one, so a retried command appends the same
    /// ids and the store recognises the retry.
    pub fn with_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    /// Attaches who and what caused the event.
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Declares a payload shape newer than 1, for readers to upcast from.
    pub fn with_schema_version(mut self, schema_version: i32) -> Self {
        self.schema_version = schema_version;
        self
    }
}

/// An event as stored in the log. Its serde form is the envelope the relay publishes (see
/// `rocketmq`'s `event_message`), so consumers get back exactly what the log holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Global position (unique, increasing, with holes where appends rolled back).
    pub position: u64,
    /// Transaction that appended it (see [`AllPosition`]).
    pub tx_id: u64,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Version within its stream, from 0.
    pub version: u64,
    /// The id the writer chose (see [`NewEvent::event_id`]).
    pub event_id: Uuid,
    /// Past-tense name, e.g. `StockReserved`.
    pub event_type: String,
    /// Version of the payload's shape, from 1.
    pub schema_version: i32,
    /// The payload, a JSON object.
    pub data: Value,
    /// Why and by whom it was appended.
    pub metadata: EventMetadata,
    /// When the append's transaction wrote it (database clock).
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// This event's place in the gap-safe `$all` order; checkpoint it after handling the event.
    pub fn all_position(&self) -> AllPosition {
        AllPosition {
            tx_id: self.tx_id,
            position: self.position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keeps_unknown_keys_and_omits_missing_ones() {
        let raw = serde_json::json!({
            "correlation_id": "7d9f4c52-1b1e-4a53-9a77-3c1f0f0f0f0f",
            "actor": "customer:42",
            "tenant": "eu"
        });
        let meta: EventMetadata = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(meta.actor.as_deref(), Some("customer:42"));
        assert_eq!(meta.extra.get("tenant"), Some(&Value::from("eu")));
        assert_eq!(serde_json::to_value(&meta).unwrap(), raw);
    }
}
