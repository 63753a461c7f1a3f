//! Turning gRPC requests into domain values: ids, money, the command context. Every failure is
//! an `INVALID_ARGUMENT` naming the field as the .proto file does.

use aggregates::{Currency, Money};
use proto::common;
use tonic::{Request, metadata::MetadataMap};
use uuid::Uuid;

use crate::{auth::Caller, error::AppError, handler::CommandContext};

/// Request metadata key of the correlation id (a UUID); a new one is minted when it is absent.
pub const CORRELATION_ID: &str = proto::contract::CORRELATION_ID;
/// Request metadata key of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";

/// A required UUID field.
pub fn uuid(field: &'static str, value: &str) -> Result<Uuid, AppError> {
    if value.is_empty() {
        return Err(AppError::invalid(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| AppError::invalid(field, "must be a UUID"))
}

/// A required id field as the domain's typed id.
pub fn id<T: From<Uuid>>(field: &'static str, value: &str) -> Result<T, AppError> {
    uuid(field, value).map(T::from)
}

/// A required currency code field.
pub fn currency(field: &'static str, code: &str) -> Result<Currency, AppError> {
    Currency::new(code).map_err(|_| AppError::invalid(field, "must be three uppercase letters"))
}

/// A required money field.
pub fn money(field: &'static str, value: Option<&common::Money>) -> Result<Money, AppError> {
    let value = value.ok_or_else(|| AppError::invalid(field, "is required"))?;
    Ok(Money::new(
        value.amount_minor,
        currency(field, &value.currency)?,
    ))
}

/// A required payment method field (the wire enum's value).
pub fn payment_method(
    field: &'static str,
    value: i32,
) -> Result<aggregates::payment::PaymentMethod, AppError> {
    use aggregates::payment::PaymentMethod;
    use proto::payment::PaymentMethod as Wire;
    match Wire::try_from(value) {
        Ok(Wire::Balance) => Ok(PaymentMethod::Balance),
        Ok(Wire::External) => Ok(PaymentMethod::External),
        Ok(Wire::Unspecified) | Err(_) => Err(AppError::invalid(
            field,
            "must be PAYMENT_METHOD_BALANCE or PAYMENT_METHOD_EXTERNAL",
        )),
    }
}

/// The domain money as its wire form.
pub fn money_to_proto(money: Money) -> common::Money {
    common::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().to_string(),
    }
}

/// The context of a command request: its command id, the caller, the request's fingerprint, and
/// the correlation id and trace context from the request metadata.
pub fn context<T: prost::Name>(
    request: &Request<T>,
    caller: &Caller,
    command_id: &str,
) -> Result<CommandContext, AppError> {
    let actor = caller.actor();
    Ok(CommandContext {
        command_id: uuid("command_id", command_id)?,
        correlation_id: correlation_id(request.metadata())?.unwrap_or_else(Uuid::new_v4),
        fingerprint: Some(fingerprint(request.get_ref(), &actor)),
        actor,
        traceparent: request
            .metadata()
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .filter(|value| value.len() <= 128)
            .map(str::to_owned),
    })
}

/// What identifies a request (`docs/command-fingerprints.md`): SHA-256 over the message's
/// protobuf name, the caller, and the message re-encoded by prost, in hex. The encoding is
/// canonical — fields in tag order, maps generated as `BTreeMap` so in key order, unknown fields
/// dropped — so the same request gives the same fingerprint however a client encoded it, and
/// requests of two methods with the same fields differ by name.
pub fn fingerprint<T: prost::Name>(body: &T, actor: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [T::full_name().as_bytes(), actor.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body.encode_to_vec());
    hex::encode(hash.finalize())
}

/// The request's correlation id, if it sent one; a malformed one is rejected rather than replaced,
/// so a client bug does not silently break the causal chain.
fn correlation_id(metadata: &MetadataMap) -> Result<Option<Uuid>, AppError> {
    metadata
        .get(CORRELATION_ID)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| Uuid::parse_str(text).ok())
                .ok_or_else(|| AppError::invalid("x-correlation-id", "must be a UUID"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_present_uuids() {
        assert!(uuid("customer_id", "").is_err());
        assert!(uuid("customer_id", "42").is_err());
        let id = Uuid::new_v4();
        assert_eq!(uuid("customer_id", &id.to_string()).unwrap(), id);
    }

    #[test]
    fn money_needs_a_valid_currency() {
        let ok = common::Money {
            amount_minor: 100,
            currency: "EUR".into(),
        };
        assert_eq!(money("amount", Some(&ok)).unwrap().amount_minor(), 100);
        let bad = common::Money {
            amount_minor: 100,
            currency: "eur".into(),
        };
        assert!(money("amount", Some(&bad)).is_err());
        assert!(money("amount", None).is_err());
    }

    #[test]
    fn context_takes_the_correlation_id_from_metadata_or_mints_one() {
        let caller = Caller {
            subject: "svc".into(),
            roles: vec!["service".into()],
        };
        let command_id = Uuid::new_v4().to_string();
        let correlation = Uuid::new_v4();
        let mut request = Request::new(ship_request("o-1"));
        request
            .metadata_mut()
            .insert(CORRELATION_ID, correlation.to_string().parse().unwrap());
        let context = context(&request, &caller, &command_id).unwrap();
        assert_eq!(context.correlation_id, correlation);
        assert_eq!(context.actor, "svc");

        let fresh =
            super::context(&Request::new(ship_request("o-1")), &caller, &command_id).unwrap();
        assert_ne!(fresh.correlation_id, correlation);
    }

    fn ship_request(order_id: &str) -> proto::order::ShipRequest {
        proto::order::ShipRequest {
            command_id: "c".into(),
            order_id: order_id.into(),
        }
    }

    #[test]
    fn the_fingerprint_names_the_method_the_caller_and_the_body() {
        let ship = fingerprint(&ship_request("o-1"), "svc");
        assert_eq!(
            ship,
            fingerprint(&ship_request("o-1"), "svc"),
            "deterministic"
        );
        assert_eq!(ship.len(), 64, "SHA-256 in hex");
        assert_ne!(
            ship,
            fingerprint(&ship_request("o-2"), "svc"),
            "another body"
        );
        assert_ne!(
            ship,
            fingerprint(&ship_request("o-1"), "admin:eve"),
            "another caller"
        );
        // The same fields under another message name: another method.
        let reserved = proto::order::MarkStockReservedRequest {
            command_id: "c".into(),
            order_id: "o-1".into(),
        };
        assert_ne!(ship, fingerprint(&reserved, "svc"), "another method");
    }

    #[test]
    fn the_fingerprint_does_not_depend_on_the_order_maps_were_filled_in() {
        let sku = |keys: Vec<u32>| proto::product::AddSkuRequest {
            command_id: "c".into(),
            attributes: keys
                .into_iter()
                .map(|k| (format!("key-{k}"), format!("value-{k}")))
                .collect(),
            ..Default::default()
        };
        let forward = fingerprint(&sku((0..32).collect()), "svc");
        let backward = fingerprint(&sku((0..32).rev().collect()), "svc");
        assert_eq!(forward, backward);
    }
}
