//! The event storage contract: how a domain event becomes the event store's
//! `(event_type, schema_version, data)` triple and back, including upcasting old payloads.
//!
//! Every event enum is externally tagged by serde with variant names equal to the event types,
//! so `data` is exactly the variant's fields (always a JSON object) and decoding re-tags it with
//! the stored type. Unknown fields are ignored on read: adding an optional field needs no new
//! schema version; removing, renaming or changing the meaning of a field does, with an upcaster.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::error::DecodeError;

/// A versioned, storable domain event (implemented by each aggregate's event enum).
pub trait DomainEvent: Serialize + DeserializeOwned {
    /// Every event type of this enum with its current schema version. The single source of
    /// truth for [`schema_version`](Self::schema_version) and for what
    /// [`from_stored`](Self::from_stored) accepts.
    const SCHEMAS: &'static [(&'static str, i32)];

    /// The stored type name: PascalCase past tense, unique across all aggregates
    /// (e.g. `"StockReserved"`).
    fn event_type(&self) -> &'static str;

    /// Upgrades `data` stored at `from_version` of `event_type` by exactly one version. Only
    /// event types whose current version is above 1 need a case; the default has none.
    fn upcast(event_type: &str, from_version: i32, data: Value) -> Result<Value, DecodeError> {
        let _ = data;
        Err(DecodeError::MissingUpcaster {
            event_type: event_type.to_owned(),
            from_version,
        })
    }

    /// The schema version this code writes for this event.
    fn schema_version(&self) -> i32 {
        // Every event type is listed in SCHEMAS (a round-trip test per aggregate proves it:
        // `from_stored` rejects unlisted types), so the fallback is never used.
        current_version::<Self>(self.event_type()).unwrap_or(1)
    }

    /// The payload to store: the event's fields as a JSON object, without the type tag.
    fn to_data(&self) -> Value {
        // Event enums hold only plain data (strings, integers, UUIDs, timestamps, maps with
        // string keys) in struct variants, for which serde_json cannot fail.
        let tagged = serde_json::to_value(self).expect("domain events always serialize to json");
        match tagged {
            Value::Object(map) if map.len() == 1 => map
                .into_iter()
                .next()
                .map(|(_, data)| data)
                .unwrap_or_default(),
            other => other,
        }
    }

    /// Rebuilds an event from the store, upcasting `data` from `schema_version` to the current
    /// version first.
    fn from_stored(
        event_type: &str,
        schema_version: i32,
        data: &Value,
    ) -> Result<Self, DecodeError> {
        let current =
            current_version::<Self>(event_type).ok_or_else(|| DecodeError::UnknownEventType {
                event_type: event_type.to_owned(),
            })?;
        if !(1..=current).contains(&schema_version) {
            return Err(DecodeError::UnsupportedSchemaVersion {
                event_type: event_type.to_owned(),
                schema_version,
                current,
            });
        }
        if !data.is_object() {
            return Err(DecodeError::NotAnObject {
                event_type: event_type.to_owned(),
            });
        }
        let mut data = data.clone();
        for version in schema_version..current {
            data = Self::upcast(event_type, version, data)?;
        }
        let tagged = Value::Object(Map::from_iter([(event_type.to_owned(), data)]));
        serde_json::from_value(tagged).map_err(|source| DecodeError::InvalidPayload {
            event_type: event_type.to_owned(),
            schema_version,
            source,
        })
    }
}

/// The current schema version of `event_type` in `E`, if `E` has that type.
fn current_version<E: DomainEvent>(event_type: &str) -> Option<i32> {
    E::SCHEMAS
        .iter()
        .find(|(name, _)| *name == event_type)
        .map(|(_, version)| *version)
}

/// Implements [`DomainEvent`] for an event enum from one list of its variants, each with its
/// current schema version: the list is both [`DomainEvent::SCHEMAS`] and the match of
/// [`DomainEvent::event_type`] (the variant name is the stored type), so an event type is
/// written once. A variant missing from the list fails to compile (the match is exhaustive).
/// Anything after the list (e.g. an `upcast` override) goes into the impl as it is.
///
/// ```text
/// domain_event!(OrderEvent {
///     OrderPlaced = 1,
///     OrderPaid = 1,
/// });
/// ```
macro_rules! domain_event {
    ($event:ty { $($variant:ident = $version:literal),+ $(,)? } $($rest:tt)*) => {
        impl $crate::event::DomainEvent for $event {
            const SCHEMAS: &'static [(&'static str, i32)] =
                &[$((stringify!($variant), $version)),+];

            fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)+
                }
            }

            $($rest)*
        }
    };
}
pub(crate) use domain_event;
