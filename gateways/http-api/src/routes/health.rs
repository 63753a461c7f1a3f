//! Probes: `GET /healthz` (the process is alive) and `GET /readyz` (the query service answers
//! its standard health check, so requests can be served). Neither needs a token.

use std::time::Duration;

use axum::{Json, extract::State};
use serde::Serialize;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// Longest `/readyz` waits for the query service: probes are frequent and must not pile up.
const READINESS_DEADLINE: Duration = Duration::from_secs(1);

/// The body of a successful probe.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbeStatus {
    /// `ok` (alive) or `ready`.
    pub status: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "probes",
    responses((status = 200, description = "Alive", body = ProbeStatus)),
)]
pub async fn healthz() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok" })
}

/// The query service answers `SERVING` to `grpc.health.v1.Health/Check` for the whole server.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    responses(
        (status = 200, description = "Ready to serve reads", body = ProbeStatus),
        (status = 503, description = "The query service is down or not serving", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
)]
#[tracing::instrument(name = "readyz", skip_all)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    let deadline = READINESS_DEADLINE.min(state.query_timeout);
    let mut client = state.query.health.clone();
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    request.set_timeout(deadline);
    let answer = match tokio::time::timeout(deadline, client.check(request)).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => {
            return Err(ApiError::Unavailable(format!(
                "health check failed: {:?}: {}",
                status.code(),
                status.message()
            )));
        }
        Err(_elapsed) => {
            return Err(ApiError::Unavailable(format!(
                "health check unanswered within {} ms",
                deadline.as_millis()
            )));
        }
    };
    if answer.status == ServingStatus::Serving as i32 {
        Ok(Json(ProbeStatus { status: "ready" }))
    } else {
        Err(ApiError::Unavailable(format!(
            "query service reports status {}",
            answer.status
        )))
    }
}
