//! The payment provider's webhook: `POST /api/v1/webhooks/payments` (`docs/payments.md`, "The
//! webhook's rules"). No bearer token: the provider proves itself with the `Commerce-Signature`
//! header instead.
//!
//! 1. **Signature first, on the raw bytes** ([`webhook::verify`]): missing, malformed, stale
//!    either way, or matching none of `payments.webhook_secrets` → `401 invalid_signature`,
//!    the message naming which; nothing else happens.
//! 2. **Then the body** ([`webhook::Event::from_json`]): malformed → `400`; `charge.pending` →
//!    `200 {"status": "ignored"}`.
//! 3. **Then one payment command** with command id [`webhook::command_id`] of the event id, so a
//!    callback delivered again is the same command again and the payment service answers its
//!    stored result: `charge.succeeded` → `Capture`, `charge.failed` → `Fail`,
//!    `refund.succeeded` → `Refund`. Its answer maps in [`receipt`]: applied → `200`; unknown
//!    payment → `404`; a payment in another state (a late or out-of-order callback) → `200
//!    {"status": "ignored", "reason"}` so the provider stops retrying; the payment service down
//!    or slow → `503` so it retries.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
};
use proto::{
    common::Money,
    contract::{CORRELATION_ID, REQUEST_ID},
    payment::{CaptureRequest, FailRequest, RefundRequest},
};
use serde::Serialize;
use settings::ExposeSecret;
use tonic::{Code, Request, Response, Status, metadata::AsciiMetadataValue};
use utoipa::ToSchema;
use webhook::{Event, EventType, SIGNATURE_HEADER, SignatureError};

use crate::{
    error::{ApiError, ErrorBody},
    extract::RequestId,
    state::{AppState, WebhookState},
};

/// Where the provider sends its callbacks.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/payments";
/// Largest callback body accepted (a real one is under 1 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The reason of the refunds the webhook records.
pub const REFUND_REASON: &str = "refunded at the provider";

/// What became of a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// `applied`: the payment command ran (now, or already for an earlier delivery of the same
    /// event). `ignored`: nothing to do (an informational event, or a payment no longer in a
    /// state for it).
    pub status: ReceiptStatus,
    /// Why it was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether a callback changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// The payment command ran.
    Applied,
    /// Nothing was done, and nothing will be for this event.
    Ignored,
}

impl WebhookReceipt {
    fn applied() -> Self {
        Self {
            status: ReceiptStatus::Applied,
            reason: None,
        }
    }

    fn ignored(reason: impl Into<String>) -> Self {
        Self {
            status: ReceiptStatus::Ignored,
            reason: Some(reason.into()),
        }
    }
}

/// A payment provider's callback: a charge succeeded or failed, a refund succeeded.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/payments",
    tag = "webhooks",
    params(
        ("Commerce-Signature" = String, Header,
            description = "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`; several `v1` while a secret rotates",
            pattern = "^t=[0-9]+(,[a-z0-9]+=[0-9a-fA-F]*)+$"),
    ),
    request_body(content = Event, content_type = "application/json",
        description = "The callback event, signed as sent (at most 64 KiB)"),
    responses(
        (status = 200, description = "Applied, or ignored with the reason (informational, late or out-of-order): the provider stops retrying", body = WebhookReceipt),
        (status = 400, description = "Not a callback event (`invalid_argument`)", body = ErrorBody),
        (status = 401, description = "Missing, malformed, stale or non-matching signature (`invalid_signature`, the message says which); nothing happened", body = ErrorBody),
        (status = 404, description = "No such payment (`not_found`)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        (status = 500, description = "A fault of the service (`internal`)", body = ErrorBody),
        (status = 503, description = "The payment service is unavailable (`unavailable`); retry after `Retry-After` seconds", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "payment_webhook", skip_all, fields(event_id, r#type))]
pub async fn payment_callback(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookReceipt>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(MAX_BODY_BYTES)
        } else {
            ApiError::InvalidArgument("the body could not be read".to_owned())
        }
    })?;
    let webhook = &state.webhook;
    verify(webhook, &headers, &body).map_err(ApiError::InvalidSignature)?;
    let event =
        Event::from_json(&body).map_err(|error| ApiError::InvalidArgument(error.to_string()))?;
    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    span.record("type", event.kind.as_str());
    let request_id = request_id.map_or_else(RequestId::generate, |Extension(id)| id);
    let receipt = apply(&state, &event, &request_id).await?;
    tracing::info!(status = ?receipt.status, reason = receipt.reason.as_deref(), "callback handled");
    Ok(Json(receipt))
}

/// Checks the signature header on the raw `body`, against every secret, at the present time.
fn verify(webhook: &WebhookState, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let mut values = headers.get_all(SIGNATURE_HEADER).iter();
    let header = values.next().ok_or(SignatureError::Missing)?;
    if values.next().is_some() {
        return Err(SignatureError::Malformed(
            "the header is sent more than once",
        ));
    }
    let header = header
        .to_str()
        .map_err(|_| SignatureError::Malformed("the header is not visible ASCII"))?;
    let secrets: Vec<&[u8]> = webhook
        .secrets
        .iter()
        .map(|secret| secret.expose_secret().as_bytes())
        .collect();
    webhook::verify(header, body, &secrets, unix_now(), webhook.tolerance)
}

/// Now, Unix seconds.
fn unix_now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// The payment command `event` calls for, sent, and its answer as a receipt.
async fn apply(
    state: &AppState,
    event: &Event,
    request_id: &RequestId,
) -> Result<WebhookReceipt, ApiError> {
    let command_id = webhook::command_id(&event.id).to_string();
    let payment_id = event.data.payment_id.to_string();
    let mut payments = state.webhook.payments.clone();
    let answer = match event.kind {
        EventType::ChargePending => {
            return Ok(WebhookReceipt::ignored(
                "charge.pending is informational; the outcome follows",
            ));
        }
        EventType::ChargeSucceeded => {
            let request = call(
                state,
                event,
                request_id,
                CaptureRequest {
                    command_id,
                    payment_id,
                    provider_reference: Some(event.data.charge_id.clone()),
                },
            );
            within(state, payments.capture(request)).await
        }
        EventType::ChargeFailed => {
            let reason = event.data.failure_reason.as_deref().unwrap_or_default();
            let request = call(
                state,
                event,
                request_id,
                FailRequest {
                    command_id,
                    payment_id,
                    reason: format!("payment declined: {reason}"),
                },
            );
            within(state, payments.fail(request)).await
        }
        EventType::RefundSucceeded => {
            let request = call(
                state,
                event,
                request_id,
                RefundRequest {
                    command_id,
                    payment_id,
                    amount: Some(Money {
                        amount_minor: event.data.amount_minor,
                        currency: event.data.currency.clone(),
                    }),
                    reason: REFUND_REASON.to_owned(),
                },
            );
            within(state, payments.refund(request)).await
        }
    };
    receipt(answer)
}

/// `message` as a gRPC request: the service token, the request id, the order id as the
/// correlation id (the callback is one step of that order's checkout), and the deadline.
fn call<T>(state: &AppState, event: &Event, request_id: &RequestId, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(state.query_timeout);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", state.webhook.token.bearer());
    if let Ok(value) = AsciiMetadataValue::try_from(request_id.as_str()) {
        metadata.insert(REQUEST_ID, value);
    }
    if let Ok(value) = AsciiMetadataValue::try_from(event.data.order_id.to_string()) {
        metadata.insert(CORRELATION_ID, value);
    }
    request
}

/// Awaits a payment call for at most the gRPC deadline (connecting included).
async fn within<T>(
    state: &AppState,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Result<(), Status> {
    match tokio::time::timeout(state.query_timeout, call).await {
        Ok(answer) => answer.map(drop),
        Err(_elapsed) => Err(Status::deadline_exceeded(format!(
            "no answer within {} ms",
            state.query_timeout.as_millis()
        ))),
    }
}

/// The one mapping from the payment service's answer to the webhook's: see the module doc.
pub fn receipt(answer: Result<(), Status>) -> Result<WebhookReceipt, ApiError> {
    let status = match answer {
        Ok(()) => return Ok(WebhookReceipt::applied()),
        Err(status) => status,
    };
    let message = status.message().to_owned();
    match status.code() {
        Code::NotFound => Err(ApiError::NotFound(message)),
        Code::FailedPrecondition => Ok(WebhookReceipt::ignored(message)),
        Code::InvalidArgument | Code::OutOfRange => Err(ApiError::InvalidArgument(message)),
        // Down, overloaded, slow or contended: all pass with time, and the provider retries.
        Code::Unavailable
        | Code::ResourceExhausted
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Aborted => Err(ApiError::PaymentServiceUnavailable(format!(
            "{:?}: {message}",
            status.code()
        ))),
        // Our own token refused, or a fault: ours to fix; the provider's retries may outlast it.
        code => Err(ApiError::Internal(format!(
            "payment service answered {code:?}: {message}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payment_services_answers_map_to_the_webhooks() {
        assert_eq!(receipt(Ok(())), Ok(WebhookReceipt::applied()));
        assert_eq!(
            receipt(Err(Status::failed_precondition("payment is captured"))),
            Ok(WebhookReceipt::ignored("payment is captured"))
        );
        let cases = [
            (Status::not_found("payment not found"), 404),
            (Status::invalid_argument("amount"), 400),
            (Status::unavailable("connect error"), 503),
            (Status::deadline_exceeded("slow"), 503),
            (Status::cancelled("Timeout expired"), 503),
            (Status::aborted("kept changing"), 503),
            (Status::resource_exhausted("busy"), 503),
            (Status::unauthenticated("bad token"), 500),
            (Status::permission_denied("no role"), 500),
            (Status::internal("db"), 500),
            (Status::already_exists("x"), 500),
        ];
        for (status, http) in cases {
            let code = status.code();
            assert_eq!(
                receipt(Err(status)).unwrap_err().status().as_u16(),
                http,
                "{code:?}"
            );
        }
    }

    #[test]
    fn a_receipt_says_ignored_with_its_reason_and_applied_without() {
        assert_eq!(
            serde_json::to_value(WebhookReceipt::applied()).unwrap(),
            serde_json::json!({"status": "applied"})
        );
        assert_eq!(
            serde_json::to_value(WebhookReceipt::ignored("late")).unwrap(),
            serde_json::json!({"status": "ignored", "reason": "late"})
        );
    }
}
