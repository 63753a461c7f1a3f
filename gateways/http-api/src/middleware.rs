//! What wraps every request, matched or not: the request id (taken or minted, echoed, logged),
//! the request's span and its one log line, the body-size and time limits, and the rendering of
//! every error response in the API's error shape.

use std::time::Instant;

use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Response, header},
    middleware::Next,
    response::IntoResponse,
};
use tracing::Instrument;

use crate::{
    error::{ApiError, ErrorReport},
    extract::{REQUEST_ID_HEADER, RequestId},
    routes::webhooks,
    state::AppState,
};

/// Largest request body accepted on the read routes. They read no bodies; a GET with a body is
/// tolerated up to this size and otherwise refused with 413. The payment webhook, which reads
/// one, has its own limit ([`webhooks::MAX_BODY_BYTES`]).
pub const MAX_BODY_BYTES: usize = 1024;

/// The outermost layer: gives the request its id and span, enforces the limits, renders error
/// bodies, sets `X-Request-Id` on the response and logs one line (method, path, status,
/// latency).
pub async fn request_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = RequestId::from_headers(request.headers());
    let span = tracing::info_span!(
        "http",
        request_id = request_id.as_str(),
        method = %request.method(),
        path = request.uri().path(),
    );
    request.extensions_mut().insert(request_id.clone());
    async move {
        let limit = body_limit(request.uri().path());
        let response = if body_too_large(&request, limit) {
            ApiError::PayloadTooLarge(limit).into_response()
        } else {
            match tokio::time::timeout(state.request_timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_elapsed) => ApiError::Timeout(format!(
                    "request took longer than {} ms",
                    state.request_timeout.as_millis()
                ))
                .into_response(),
            }
        };
        let mut response = render_error(response, &request_id);
        if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if response.status().is_server_error() {
            tracing::warn!(status, latency_ms, "request served");
        } else {
            tracing::info!(status, latency_ms, "request served");
        }
        response
    }
    .instrument(span)
    .await
}

/// The largest body the route at `path` takes.
fn body_limit(path: &str) -> usize {
    if path == webhooks::WEBHOOK_PATH {
        webhooks::MAX_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// Whether the request announces a body over `limit`. A chunked body without a length is never
/// read by the read routes, so it costs nothing; the webhook reads its body with the same limit.
fn body_too_large(request: &Request, limit: usize) -> bool {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|length| length.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64)
}

/// Gives an error response its JSON body: from the [`ErrorReport`] an [`ApiError`] left, or,
/// for an error status produced elsewhere, from the status alone.
fn render_error(response: Response<Body>, request_id: &RequestId) -> Response<Body> {
    let status = response.status();
    let report = match response.extensions().get::<ErrorReport>() {
        Some(report) => report.clone(),
        None if status.is_client_error() || status.is_server_error() => {
            ErrorReport::for_status(status)
        }
        None => return response,
    };
    let (mut parts, _body) = response.into_parts();
    let rendered = Json(report.body(request_id.as_str())).into_response();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, rendered.into_body())
}
