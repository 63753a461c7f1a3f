//! Turning gRPC requests into domain values: ids, money, the command context. Every failure is
//! an `INVALID_ARGUMENT` naming the field as the .proto file does.

use aggregates::{Currency, Money};
use commerce_proto::common;
use tonic::{Request, metadata::MetadataMap};
use uuid::Uuid;

use crate::{auth::Caller, error::AppError, handler::CommandContext};

/// Request metadata key of the correlation id (a UUID); a new one is minted when it is absent.
pub const CORRELATION_ID: &str = "x-correlation-id";
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

/// The domain money as its wire form.
pub fn money_to_proto(money: Money) -> common::Money {
    common::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().to_string(),
    }
}

/// The context of a command request: its command id, the caller, and the correlation id and
/// trace context from the request metadata.
pub fn context<T>(
    request: &Request<T>,
    caller: &Caller,
    command_id: &str,
) -> Result<CommandContext, AppError> {
    Ok(CommandContext {
        command_id: uuid("command_id", command_id)?,
        correlation_id: correlation_id(request.metadata())?.unwrap_or_else(Uuid::new_v4),
        actor: caller.actor(),
        traceparent: request
            .metadata()
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .filter(|value| value.len() <= 128)
            .map(str::to_owned),
    })
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
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert(CORRELATION_ID, correlation.to_string().parse().unwrap());
        let context = context(&request, &caller, &command_id).unwrap();
        assert_eq!(context.correlation_id, correlation);
        assert_eq!(context.actor, "svc");

        let fresh = super::context(&Request::new(()), &caller, &command_id).unwrap();
        assert_ne!(fresh.correlation_id, correlation);
    }
}
