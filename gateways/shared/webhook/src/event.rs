//! The callback's body: `{"id", "type", "created", "data": {…}}`, and the checks a body must
//! pass before our webhook acts on it (a malformed one is a `400`, never a command).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest text field accepted (ids, currency, failure reason): what the payment service keeps
/// of a provider reference, and far more than any provider sends.
pub const MAX_TEXT_LEN: usize = 200;

/// What happened at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(as = PaymentCallbackType)
)]
pub enum EventType {
    /// The charge was created and awaits its outcome; informational (our webhook ignores it).
    #[serde(rename = "charge.pending")]
    ChargePending,
    /// The money was collected: the payment is captured.
    #[serde(rename = "charge.succeeded")]
    ChargeSucceeded,
    /// The charge was declined (`failure_reason` says why): the payment fails.
    #[serde(rename = "charge.failed")]
    ChargeFailed,
    /// Money went back to the payer (`refund_id` names the refund): the payment is refunded by
    /// `amount_minor`.
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
}

impl EventType {
    /// Every type.
    pub const ALL: [Self; 4] = [
        Self::ChargePending,
        Self::ChargeSucceeded,
        Self::ChargeFailed,
        Self::RefundSucceeded,
    ];

    /// The wire name, e.g. `charge.succeeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChargePending => "charge.pending",
            Self::ChargeSucceeded => "charge.succeeded",
            Self::ChargeFailed => "charge.failed",
            Self::RefundSucceeded => "refund.succeeded",
        }
    }
}

/// One callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PaymentCallback))]
pub struct Event {
    /// The provider's id of the event, `evt_…`; the same for every delivery of it.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When the provider created the event, Unix seconds.
    pub created: i64,
    /// About which payment.
    pub data: EventData,
}

/// The charge (or refund) an [`Event`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PaymentCallbackData))]
pub struct EventData {
    /// Our payment's id, as the charge was created with.
    pub payment_id: Uuid,
    /// Our order's id, as the charge was created with.
    pub order_id: Uuid,
    /// The provider's charge id, `ch_…`.
    pub charge_id: String,
    /// The charge's amount, or for a refund the refunded amount, in minor units; positive.
    pub amount_minor: i64,
    /// ISO 4217 code, three uppercase letters.
    pub currency: String,
    /// The refund, `re_…`; set on `refund.succeeded` only.
    pub refund_id: Option<String>,
    /// Why the charge was declined; set on `charge.failed` only.
    pub failure_reason: Option<String>,
}

/// Why a body is not a callback our webhook acts on. The message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON, an unknown `type`, a missing field, a value of the wrong type or a malformed
    /// UUID.
    #[error("not a callback event: {0}")]
    Json(#[from] serde_json::Error),
    /// Well-formed JSON whose field breaks the contract.
    #[error("{field} {problem}")]
    Invalid {
        /// The field, e.g. `data.currency`.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl Event {
    /// The event in `body`, checked: every field present and well formed, `failure_reason` on a
    /// failed charge, `refund_id` on a refund.
    pub fn from_json(body: &[u8]) -> Result<Self, PayloadError> {
        let event: Self = serde_json::from_slice(body)?;
        event.check()?;
        Ok(event)
    }

    /// The JSON body the provider sends.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event serializes")
    }

    /// The contract's checks beyond the types.
    fn check(&self) -> Result<(), PayloadError> {
        let invalid = |field, problem| Err(PayloadError::Invalid { field, problem });
        let data = &self.data;
        if !is_id(&self.id, "evt_") {
            return invalid("id", "must be evt_ followed by letters, digits, _ or -");
        }
        if self.created <= 0 {
            return invalid("created", "must be a positive Unix time");
        }
        if !is_id(&data.charge_id, "ch_") {
            return invalid(
                "data.charge_id",
                "must be ch_ followed by letters, digits, _ or -",
            );
        }
        if data.amount_minor <= 0 {
            return invalid("data.amount_minor", "must be positive");
        }
        if !(data.currency.len() == 3 && data.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return invalid("data.currency", "must be three uppercase letters");
        }
        match (&data.refund_id, self.kind) {
            (None, EventType::RefundSucceeded) => {
                return invalid("data.refund_id", "is required on refund.succeeded");
            }
            (Some(refund), _) if !is_id(refund, "re_") => {
                return invalid(
                    "data.refund_id",
                    "must be re_ followed by letters, digits, _ or -",
                );
            }
            _ => {}
        }
        match (&data.failure_reason, self.kind) {
            (None, EventType::ChargeFailed) => {
                invalid("data.failure_reason", "is required on charge.failed")
            }
            (Some(reason), _) if reason.trim().is_empty() || reason.len() > MAX_TEXT_LEN => {
                invalid("data.failure_reason", "must be 1 to 200 bytes of text")
            }
            _ => Ok(()),
        }
    }
}

/// `prefix` then 1 or more of `[A-Za-z0-9_-]`, at most [`MAX_TEXT_LEN`] bytes in all.
fn is_id(value: &str, prefix: &str) -> bool {
    value.len() <= MAX_TEXT_LEN
        && value.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn body() -> Value {
        json!({
            "id": "evt_7d0f3a9e-4c1b-4f7e-9a55-4b7d2f1f0a11",
            "type": "charge.succeeded",
            "created": 1_764_979_200,
            "data": {
                "payment_id": "5b0c8a52-3c1e-4d0e-9a55-4b7d2f1f0a11",
                "order_id": "6c1d9b63-4d2f-4e1f-8b66-5c8e3f2f1b22",
                "charge_id": "ch_0d0c8a52-3c1e-5d0e-9a55-4b7d2f1f0a11",
                "amount_minor": 1999,
                "currency": "EUR",
                "refund_id": null,
                "failure_reason": null
            }
        })
    }

    fn parse(value: &Value) -> Result<Event, PayloadError> {
        Event::from_json(value.to_string().as_bytes())
    }

    #[test]
    fn the_documented_body_parses_and_serializes_back_to_itself() {
        let event = parse(&body()).unwrap();
        assert_eq!(event.kind, EventType::ChargeSucceeded);
        assert_eq!(event.data.amount_minor, 1999);
        let again: Value = serde_json::from_slice(&event.to_json()).unwrap();
        assert_eq!(again, body());
    }

    #[test]
    fn every_type_has_its_wire_name() {
        for kind in EventType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn malformed_bodies_are_refused_naming_the_problem() {
        // (what the error says, the field changed (`data.x` inside data), its new value; None
        // removes it)
        let cases = [
            ("unknown variant", "type", Some(json!("charge.exploded"))),
            ("missing field `id`", "id", None),
            ("missing field `amount_minor`", "data.amount_minor", None),
            ("UUID", "data.payment_id", Some(json!("42"))),
            ("invalid type", "created", Some(json!("yesterday"))),
            ("id must be evt_", "id", Some(json!("42"))),
            ("id must be evt_", "id", Some(json!("evt_"))),
            ("id must be evt_", "id", Some(json!("evt_a b"))),
            ("created", "created", Some(json!(0))),
            ("data.charge_id", "data.charge_id", Some(json!("re_1"))),
            (
                "data.amount_minor must be positive",
                "data.amount_minor",
                Some(json!(0)),
            ),
            ("data.currency", "data.currency", Some(json!("eur"))),
            (
                "data.failure_reason is required",
                "type",
                Some(json!("charge.failed")),
            ),
            (
                "data.refund_id is required",
                "type",
                Some(json!("refund.succeeded")),
            ),
            (
                "data.refund_id must be re_",
                "data.refund_id",
                Some(json!("ch_1")),
            ),
            (
                "data.failure_reason must be",
                "data.failure_reason",
                Some(json!(" ")),
            ),
        ];
        for (expected, field, value) in cases {
            let mut body = body();
            let (object, key) = match field.strip_prefix("data.") {
                Some(key) => (body["data"].as_object_mut().unwrap(), key),
                None => (body.as_object_mut().unwrap(), field),
            };
            match value {
                Some(value) => object.insert(key.to_owned(), value),
                None => object.remove(key),
            };
            let error = parse(&body).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
        }
        for garbage in [&b"{"[..], b"\"hello\"", b"[]", b"", &[0xff, 0xfe]] {
            let error = Event::from_json(garbage).unwrap_err().to_string();
            assert!(error.starts_with("not a callback event"), "{error}");
        }
    }

    #[test]
    fn a_failure_and_a_refund_carry_their_detail() {
        let mut failed = body();
        failed["type"] = json!("charge.failed");
        failed["data"]["failure_reason"] = json!("card declined");
        let failed = parse(&failed).unwrap();
        assert_eq!(failed.data.failure_reason.as_deref(), Some("card declined"));
        let mut refund = body();
        refund["type"] = json!("refund.succeeded");
        refund["data"]["refund_id"] = json!("re_1");
        assert_eq!(parse(&refund).unwrap().kind, EventType::RefundSucceeded);
    }

    #[test]
    fn optional_fields_may_be_absent_and_unknown_fields_are_tolerated() {
        let mut value = body();
        let data = value["data"].as_object_mut().unwrap();
        data.remove("refund_id");
        data.remove("failure_reason");
        value["livemode"] = json!(false);
        assert!(parse(&value).is_ok());
    }
}
