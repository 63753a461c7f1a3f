//! The simulator's HTTP API (`docs/payments.md`):
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/charges` (`Idempotency-Key`) | `201 {"charge_id", "status"}`; the same key again: `200`, the same charge, whatever the body |
//! | `POST /v1/refunds` (`Idempotency-Key`) | `201 {"refund_id", "status"}`; `404` unknown charge; `409` not refundable |
//! | `PUT /v1/scripts/{order_id}` | how that order's charge and refunds will be answered |
//! | `GET /v1/deliveries?order_id=` | every callback delivery attempt, oldest first |
//! | `GET /healthz` | `200` |
//!
//! Bodies are JSON of at most [`MAX_BODY_BYTES`] (`413` beyond); every refusal is a
//! [`ProviderError`].

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, Path, Query, State,
        rejection::{BytesRejection, QueryRejection},
    },
    http::{HeaderMap, StatusCode},
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{
    books::{Books, Charge, Delivery, Opened, Script, Status},
    delivery::{Courier, Tasks, unix_now},
    error::ProviderError,
};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The header naming one intended charge or refund.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    /// The memory.
    pub books: Arc<Books>,
    /// Sends the callbacks.
    pub courier: Courier,
    /// The outcomes playing.
    pub tasks: Tasks,
    /// How long an unscripted outcome waits.
    pub default_delay: Duration,
}

/// The routes over `simulator`.
pub fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/v1/charges", post(create_charge))
        .route("/v1/refunds", post(create_refund))
        .route("/v1/scripts/{order_id}", put(set_script))
        .route("/v1/deliveries", get(deliveries))
        .route("/healthz", get(healthz))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(simulator)
}

/// `POST /v1/charges`'s body.
#[derive(Debug, Deserialize)]
pub struct ChargeRequest {
    /// Our payment.
    pub payment_id: Uuid,
    /// Our order.
    pub order_id: Uuid,
    /// Positive, minor units.
    pub amount_minor: i64,
    /// ISO 4217, three uppercase letters.
    pub currency: String,
}

/// `POST /v1/refunds`'s body.
#[derive(Debug, Deserialize)]
pub struct RefundRequest {
    /// Our payment.
    pub payment_id: Uuid,
    /// The charge to refund, `ch_…`.
    pub charge_id: String,
    /// Positive, minor units, at most what is left of the charge.
    pub amount_minor: i64,
    /// The charge's currency.
    pub currency: String,
}

/// A charge as the API answers it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChargeAnswer {
    /// `ch_…`.
    pub charge_id: String,
    /// Where it stands.
    pub status: Status,
}

/// A refund as the API answers it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefundAnswer {
    /// `re_…`.
    pub refund_id: String,
    /// Where it stands.
    pub status: Status,
}

/// `GET /v1/deliveries`'s answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deliveries {
    /// Oldest first.
    pub deliveries: Vec<Delivery>,
}

/// `GET /v1/deliveries`'s parameters.
#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    /// Only the deliveries about this order.
    pub order_id: Option<String>,
}

async fn create_charge(
    State(simulator): State<Simulator>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ChargeAnswer>), ProviderError> {
    let key = idempotency_key(&headers)?;
    if let Some(charge) = simulator.books.charge_for_key(key) {
        return Ok(charge_answer(StatusCode::OK, &charge));
    }
    let request: ChargeRequest = json(body)?;
    check_money(request.amount_minor, &request.currency)?;
    let charge = Charge {
        charge_id: webhook::charge_id(request.payment_id),
        payment_id: request.payment_id,
        order_id: request.order_id,
        amount_minor: request.amount_minor,
        currency: request.currency,
        status: Status::Pending,
        refunded_minor: 0,
        created: unix_now(),
    };
    match simulator.books.open_charge(key, charge) {
        (Opened::Existing(charge), _) => Ok(charge_answer(StatusCode::OK, &charge)),
        (Opened::Created(charge), script) => {
            tracing::info!(charge_id = %charge.charge_id, order_id = %charge.order_id, "charge created");
            let answer = charge_answer(StatusCode::CREATED, &charge);
            let courier = simulator.courier.clone();
            simulator
                .tasks
                .spawn(courier.settle_charge(charge, script, simulator.default_delay));
            Ok(answer)
        }
    }
}

fn charge_answer(status: StatusCode, charge: &Charge) -> (StatusCode, Json<ChargeAnswer>) {
    let answer = ChargeAnswer {
        charge_id: charge.charge_id.clone(),
        status: charge.status,
    };
    (status, Json(answer))
}

async fn create_refund(
    State(simulator): State<Simulator>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RefundAnswer>), ProviderError> {
    let key = idempotency_key(&headers)?;
    let answer = |status, refund_id, state| {
        let answer = RefundAnswer {
            refund_id,
            status: state,
        };
        (status, Json(answer))
    };
    if let Some(refund) = simulator.books.refund_for_key(key) {
        return Ok(answer(StatusCode::OK, refund.refund_id, refund.status));
    }
    let request: RefundRequest = json(body)?;
    check_money(request.amount_minor, &request.currency)?;
    let opened = simulator.books.open_refund(
        key,
        request.payment_id,
        &request.charge_id,
        request.amount_minor,
        &request.currency,
    )?;
    match opened {
        (Opened::Existing(refund), _) => {
            Ok(answer(StatusCode::OK, refund.refund_id, refund.status))
        }
        (Opened::Created(refund), script) => {
            tracing::info!(refund_id = %refund.refund_id, charge_id = %request.charge_id, "refund created");
            let created = answer(StatusCode::CREATED, refund.refund_id.clone(), refund.status);
            let courier = simulator.courier.clone();
            simulator.tasks.spawn(courier.settle_refund(
                key,
                refund,
                script,
                simulator.default_delay,
            ));
            Ok(created)
        }
    }
}

async fn set_script(
    State(simulator): State<Simulator>,
    Path(order_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Script>, ProviderError> {
    let order_id = uuid("order_id", &order_id)?;
    let script: Script = json(body)?;
    script.check()?;
    simulator.books.set_script(order_id, script.clone());
    Ok(Json(script))
}

async fn deliveries(
    State(simulator): State<Simulator>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<Deliveries>, ProviderError> {
    let Query(query) =
        query.map_err(|rejection| ProviderError::InvalidRequest(rejection.body_text()))?;
    let order_id = query
        .order_id
        .map(|order_id| uuid("order_id", &order_id))
        .transpose()?;
    Ok(Json(Deliveries {
        deliveries: simulator.books.deliveries(order_id),
    }))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn no_such_route() -> ProviderError {
    ProviderError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ProviderError {
    ProviderError::MethodNotAllowed
}

/// The `Idempotency-Key` header, a UUID.
fn idempotency_key(headers: &HeaderMap) -> Result<Uuid, ProviderError> {
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| ProviderError::invalid("Idempotency-Key header", "is required"))?;
    value
        .to_str()
        .ok()
        .and_then(|key| Uuid::parse_str(key.trim()).ok())
        .ok_or_else(|| ProviderError::invalid("Idempotency-Key header", "must be a UUID"))
}

/// A UUID parameter.
fn uuid(field: &str, value: &str) -> Result<Uuid, ProviderError> {
    Uuid::parse_str(value).map_err(|_| ProviderError::invalid(field, "must be a UUID"))
}

/// A body read whole (at most [`MAX_BODY_BYTES`]) and parsed as JSON of `T`.
fn json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ProviderError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ProviderError::PayloadTooLarge(MAX_BODY_BYTES)
        } else {
            ProviderError::InvalidRequest(format!("unreadable body: {}", rejection.body_text()))
        }
    })?;
    serde_json::from_slice(&body)
        .map_err(|error| ProviderError::invalid("body", format!("is not valid: {error}")))
}

/// A positive amount in a currency of three uppercase letters.
fn check_money(amount_minor: i64, currency: &str) -> Result<(), ProviderError> {
    if amount_minor <= 0 {
        return Err(ProviderError::invalid("amount_minor", "must be positive"));
    }
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(ProviderError::invalid(
            "currency",
            "must be three uppercase letters",
        ));
    }
    Ok(())
}
