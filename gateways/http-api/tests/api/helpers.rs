//! Starting the gateway's router over a fake query service, minting tokens, sending requests.

use std::{net::SocketAddr, time::Duration};

use auth::{AuthConfig, Claims, ROLE_ADMIN, ROLE_CUSTOMER, ROLE_SERVICE, issue_token};
use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use http_api::{AppState, HttpConfig, router};
use serde_json::Value;
use tower::ServiceExt;

pub use crate::{canned::*, fake::*};

/// The gateway's router over a fresh fake query service.
pub struct TestApp {
    pub router: Router,
    pub fake: FakeQueryService,
}

impl TestApp {
    /// The router with the default (local) configuration over a new fake.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// As [`TestApp::start`], with `adjust` applied to the configuration first.
    pub async fn start_with(adjust: impl FnOnce(&mut HttpConfig)) -> Self {
        let mut config = HttpConfig::local();
        let fake = FakeQueryService::start(&config.auth).await;
        config.query_endpoint = fake.endpoint();
        adjust(&mut config);
        let router = router(AppState::new(&config).expect("valid endpoint"));
        Self { router, fake }
    }

    /// GET `path` with `token` (if any) as bearer.
    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.get_with(path, token, &[]).await
    }

    /// GET `path` with `token` and extra `headers`.
    pub async fn get_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        send(&self.router, Method::GET, path, token, headers).await
    }
}

/// The router with the local configuration, its query endpoint a port nobody listens on.
pub async fn router_without_query_service() -> Router {
    let mut config = HttpConfig::local();
    config.query_endpoint = format!("http://{}", closed_port().await);
    router(AppState::new(&config).expect("valid endpoint"))
}

/// An address of 127.0.0.1 on which nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A response, its body parsed as JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// Asserts an error response of `status` and `code` in the API's error shape whose
    /// `request_id` is the `X-Request-Id` header; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(
            self.headers["content-type"], "application/json",
            "{:#}",
            self.body
        );
        let error = &self.body["error"];
        assert_eq!(error["code"], code, "{:#}", self.body);
        assert_eq!(
            error["request_id"].as_str().unwrap(),
            self.headers["x-request-id"].to_str().unwrap(),
            "the body's request id is the header's"
        );
        assert_eq!(
            self.body.as_object().unwrap().len(),
            1,
            "only `error`: {:#}",
            self.body
        );
        assert_eq!(error.as_object().unwrap().len(), 3, "{:#}", self.body);
        let message = error["message"].as_str().unwrap().to_owned();
        assert!(!message.is_empty());
        message
    }

    /// Asserts 200 and returns the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{:#}", self.body);
        &self.body
    }
}

/// Sends one request through `router`.
pub async fn send(
    router: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    TestResponse {
        status,
        headers,
        body,
    }
}

fn token(sub: &str, roles: &[&str]) -> String {
    let config = AuthConfig::development();
    issue_token(
        &config,
        &Claims::new(sub, roles, &config.issuer, Duration::from_secs(300)),
    )
}

/// A token of customer `id`.
pub fn customer_token(id: &str) -> String {
    token(id, &[ROLE_CUSTOMER])
}

/// An admin's token.
pub fn admin_token() -> String {
    token("root", &[ROLE_ADMIN])
}

/// Another service's token (no customer or admin role).
pub fn service_token() -> String {
    token("order-saga", &[ROLE_SERVICE])
}

/// A customer token that expired a minute ago (beyond the 5 s leeway).
pub fn expired_token() -> String {
    let config = AuthConfig::development();
    let mut claims = Claims::new(CUSTOMER_A, &[ROLE_CUSTOMER], &config.issuer, Duration::ZERO);
    claims.exp -= 60;
    issue_token(&config, &claims)
}

/// A customer token from another issuer.
pub fn foreign_issuer_token() -> String {
    let config = AuthConfig::development();
    issue_token(
        &config,
        &Claims::new(
            CUSTOMER_A,
            &[ROLE_CUSTOMER],
            "someone-else",
            Duration::from_secs(300),
        ),
    )
}

/// A customer token signed with another secret.
pub fn badly_signed_token() -> String {
    let mut config = AuthConfig::development();
    config.jwt_secret = "an-entirely-different-secret-of-enough-bytes".into();
    issue_token(
        &config,
        &Claims::new(
            CUSTOMER_A,
            &[ROLE_CUSTOMER],
            &config.issuer,
            Duration::from_secs(300),
        ),
    )
}

/// A consistency header value for a `category` stream with `version`.
pub fn consistency(category: &str, id: &str, version: u64) -> String {
    format!("{category}-{id}@{version}")
}

/// Every token-protected route, with ids that exist in the fake, and a token that may read it.
pub fn protected_routes() -> Vec<(String, String)> {
    let customer = customer_token(CUSTOMER_A);
    let admin = admin_token();
    vec![
        ("/api/v1/products".to_owned(), customer.clone()),
        (format!("/api/v1/products/{PRODUCT}"), customer.clone()),
        ("/api/v1/me".to_owned(), customer.clone()),
        ("/api/v1/cart".to_owned(), customer.clone()),
        ("/api/v1/orders".to_owned(), customer.clone()),
        (format!("/api/v1/orders/{ORDER_A1}"), customer.clone()),
        ("/api/v1/payments".to_owned(), customer.clone()),
        (format!("/api/v1/payments/{PAYMENT_A1}"), customer.clone()),
        (format!("/api/v1/orders/{ORDER_A1}/checkout"), customer),
        (
            format!("/api/v1/admin/customers/{CUSTOMER_A}"),
            admin.clone(),
        ),
        (
            format!("/api/v1/admin/customers/{CUSTOMER_A}/cart"),
            admin.clone(),
        ),
        (
            format!("/api/v1/admin/customers/{CUSTOMER_A}/orders"),
            admin.clone(),
        ),
        (
            format!("/api/v1/admin/customers/{CUSTOMER_A}/payments"),
            admin.clone(),
        ),
        ("/api/v1/admin/checkouts/stuck".to_owned(), admin),
    ]
}
