//! What handlers take from a request: who is calling ([`ReadContext`]: bearer token, request id,
//! consistency token) and the path and query parameters, with every rejection in the API's
//! error shape.

use std::time::Duration;

use auth::{Caller, ROLE_CUSTOMER};
use axum::{
    extract::{FromRequestParts, Path, Query},
    http::{HeaderMap, HeaderValue, header::AUTHORIZATION, request::Parts},
};
use proto::query::ConsistencyToken;
use serde::de::DeserializeOwned;
use tonic::metadata::AsciiMetadataValue;
use uuid::Uuid;

use crate::{error::ApiError, params, state::AppState};

/// Request (and response) header of the request id; also the gRPC metadata key it travels in.
pub const REQUEST_ID_HEADER: &str = proto::contract::REQUEST_ID;
/// Request header of the read-your-writes token, `<stream_id>@<version>`.
pub const CONSISTENCY_HEADER: &str = "x-consistency-token";
/// Longest request id taken from a client.
const MAX_REQUEST_ID_LEN: usize = 64;

/// The id of one request: the client's `X-Request-Id` when it is sane (1 to 64 characters of
/// `[A-Za-z0-9._-]`), else a fresh UUID v4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The client's id from `headers` if it is sane, else a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_sane_request_id(id))
            .map_or_else(Self::generate, |id| Self(id.to_owned()))
    }

    /// A new random id.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a client's request id may be logged and echoed as it is.
fn is_sane_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An authenticated read: the caller, their token to forward, the request id and the optional
/// consistency token. Extracting it fails 401 without a valid bearer token (before anything
/// else is looked at) and 400 for a malformed `X-Consistency-Token`.
#[derive(Debug, Clone)]
pub struct ReadContext {
    /// Who is calling.
    pub caller: Caller,
    /// The `Authorization` header as received, forwarded so the query service checks the same
    /// caller again.
    authorization: AsciiMetadataValue,
    /// The request's id.
    pub request_id: RequestId,
    /// The read-your-writes token, when the client sent one.
    pub consistency: Option<ConsistencyToken>,
}

impl FromRequestParts<AppState> for ReadContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION);
        let caller = state
            .auth
            .verify_header(header.map(HeaderValue::as_bytes))?;
        // A token that verified is valid UTF-8 without control characters, hence valid metadata.
        let authorization = header
            .and_then(|value| AsciiMetadataValue::try_from(value.as_bytes()).ok())
            .ok_or_else(|| ApiError::Unauthenticated("malformed authorization header".into()))?;
        let consistency = consistency(&parts.headers)?;
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_headers(&parts.headers));
        Ok(Self {
            caller,
            authorization,
            request_id,
            consistency,
        })
    }
}

/// The `X-Consistency-Token` header, parsed; sent twice or not text it is a 400 too.
fn consistency(headers: &HeaderMap) -> Result<Option<ConsistencyToken>, ApiError> {
    let mut values = headers.get_all(CONSISTENCY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid(
            "X-Consistency-Token",
            "must be sent once",
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| ApiError::invalid("X-Consistency-Token", "must be ASCII text"))?;
    params::consistency_token(text).map(Some)
}

impl ReadContext {
    /// The caller's own customer id, for the `/me`-style routes: the caller must hold the
    /// customer role, and a customer's token names them by their id.
    pub fn own_customer_id(&self) -> Result<String, ApiError> {
        if !self.caller.has_role(ROLE_CUSTOMER) {
            return Err(ApiError::Forbidden(
                "needs the customer role: this route reads the caller's own data".into(),
            ));
        }
        params::uuid("token subject", &self.caller.subject)
            .map_err(|_| ApiError::Forbidden("token subject is not a customer id".into()))
    }

    /// Allows only admins (the `/admin/…` routes).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        Ok(self.caller.require_admin()?)
    }

    /// `message` as a gRPC request carrying the caller's token, the request id and the
    /// deadline `timeout`.
    pub fn grpc<T>(&self, message: T, timeout: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        let metadata = request.metadata_mut();
        metadata.insert("authorization", self.authorization.clone());
        if let Ok(id) = AsciiMetadataValue::try_from(self.request_id.as_str()) {
            metadata.insert(REQUEST_ID_HEADER, id);
        }
        request
    }
}

/// [`Query`] whose rejection is an [`ApiError`] (400).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::InvalidArgument(rejection.body_text()))
    }
}

/// [`Path`] whose rejection is an [`ApiError`] (400).
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::InvalidArgument(rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, id.parse().unwrap());
        headers
    }

    #[test]
    fn a_sane_client_request_id_is_kept() {
        for id in ["abc", "req-1.2_3", &"a".repeat(64)] {
            assert_eq!(RequestId::from_headers(&headers(id)).as_str(), id);
        }
    }

    #[test]
    fn an_insane_or_missing_request_id_is_replaced_by_a_uuid() {
        for id in ["", "has space", "semi;colon", &"a".repeat(65), "ünïcode"] {
            let mut map = HeaderMap::new();
            if let Ok(value) = id.parse() {
                map.insert(REQUEST_ID_HEADER, value);
            }
            let generated = RequestId::from_headers(&map);
            assert_ne!(generated.as_str(), id);
            assert!(Uuid::parse_str(generated.as_str()).is_ok(), "{id:?}");
        }
    }

    #[test]
    fn the_consistency_header_must_be_sent_once() {
        let token = "cart-5b0c8a52-3c1e-4d0e-9a55-4b7d2f1f0a11@3";
        let mut map = HeaderMap::new();
        assert_eq!(consistency(&map).unwrap(), None);
        map.append(CONSISTENCY_HEADER, token.parse().unwrap());
        assert_eq!(consistency(&map).unwrap().unwrap().version, 3);
        map.append(CONSISTENCY_HEADER, token.parse().unwrap());
        assert!(consistency(&map).is_err());
    }
}
