//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations (collected by [`routes::api`], which declares every route) and the message
//! types, served at `GET /api/v1/openapi.json`.
//!
//! What every route shares is added once, by [`ApiConventions`], rather than repeated on each
//! handler: the `X-Request-Id` header (request and response), and for the token-protected routes
//! (everything under `/api/v1/` but this document and the payment provider's webhook, which is
//! signed instead) the bearer security requirement, the `X-Consistency-Token` header and the
//! error responses any of them can give (400, 401, 500, 503 with `Retry-After`, 504).

use std::sync::LazyLock;

use axum::{http::header, response::IntoResponse};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, Header, Ref, RefOr, Required, ResponseBuilder,
        path::{Operation, ParameterBuilder, ParameterIn},
        schema::{ObjectBuilder, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

use crate::{
    error::{ErrorBody, ErrorCode, ErrorDetail},
    routes::{self, webhooks::WEBHOOK_PATH},
};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Name of the bearer-token security scheme.
pub const BEARER_SCHEME: &str = "bearer";

/// What the document says besides its paths: the description, the tags and the error schemas.
/// [`routes::api`] adds the paths; [`ApiConventions`] then what every path shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "commerce read API",
        description = "Read-only JSON API over the shop's query services, and the payment \
            provider's webhook. Every route under /api/v1 but this document and the webhook \
            (signed with `Commerce-Signature` instead) needs `Authorization: Bearer <JWT>`. Send the \
            `X-Consistency-Token: <stream_id>@<version>` a command returned to read your own \
            write; if the read model has not caught up within the wait, the answer is 503 \
            `not_yet_consistent` with `Retry-After`. Every error has the body \
            `{\"error\": {\"code\", \"message\", \"request_id\"}}`.",
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode)),
    tags(
        (name = "catalog", description = "Products, SKUs and stock"),
        (name = "customers", description = "The calling customer's profile"),
        (name = "carts", description = "The calling customer's cart"),
        (name = "orders", description = "Orders"),
        (name = "payments", description = "Payments"),
        (name = "admin", description = "Any customer's data; admin role required"),
        (name = "webhooks", description = "Callbacks of the payment provider, signed; no bearer token"),
        (name = "probes", description = "Liveness and readiness"),
        (name = "meta", description = "This document"),
    ),
)]
pub struct ApiDoc;

/// The whole document: every route's operation (from [`routes::api`]) with what they share.
pub fn generate() -> openapi::OpenApi {
    let mut document = routes::api().into_openapi();
    ApiConventions.modify(&mut document);
    document
}

/// The document, serialized once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    generate()
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// Adds what every route shares; see the module doc.
pub struct ApiConventions;

impl Modify for ApiConventions {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT with `sub`, `roles` (customer, admin, service), `iss`, `exp`",
                    ))
                    .build(),
            ),
        );
        for (path, item) in &mut openapi.paths.paths {
            let protected =
                path.starts_with("/api/v1/") && path != OPENAPI_PATH && path != WEBHOOK_PATH;
            if let Some(operation) = item.get.as_mut() {
                add_request_id(operation);
                if protected {
                    protect(operation);
                }
            }
            if let Some(operation) = item.post.as_mut() {
                add_request_id(operation);
            }
        }
    }
}

/// A string schema, optionally with a pattern.
fn string_schema(pattern: Option<&str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(pattern)
}

/// The optional `X-Request-Id` request header and the `X-Request-Id` header of every response.
fn add_request_id(operation: &mut Operation) {
    operation.parameters.get_or_insert_with(Vec::new).push(
        ParameterBuilder::new()
            .name("X-Request-Id")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Your id for the request (up to 64 of A-Z a-z 0-9 . _ -); a UUID is made \
                     up when absent or malformed",
            ))
            .schema(Some(string_schema(Some("^[A-Za-z0-9._-]{1,64}$"))))
            .build(),
    );
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.headers.insert(
                "X-Request-Id".to_owned(),
                Header::builder()
                    .schema(string_schema(None))
                    .description(Some("The request's id, also in error bodies and the logs"))
                    .build(),
            );
        }
    }
}

/// The bearer requirement, the consistency header and the errors every protected route can give.
fn protect(operation: &mut Operation) {
    operation.security = Some(vec![SecurityRequirement::new(
        BEARER_SCHEME,
        Vec::<String>::new(),
    )]);
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(
            ParameterBuilder::new()
                .name("X-Consistency-Token")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Read-your-writes: `<stream_id>@<version>` as a command returned it, e.g. \
                     `cart-5b0c8a52-3c1e-4d0e-9a55-4b7d2f1f0a11@3`. The answer then reflects at \
                     least that version, or is 503 `not_yet_consistent`",
                ))
                .schema(Some(string_schema(Some(
                    "^[a-z0-9_]+-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}@[0-9]{1,19}$",
                ))))
                .build(),
        );
    let common = [
        (
            "400",
            "Malformed id, parameter or header (`invalid_argument`)",
            false,
        ),
        (
            "401",
            "Missing, malformed, expired or foreign bearer token (`unauthenticated`)",
            false,
        ),
        ("500", "A fault of the service (`internal`)", false),
        (
            "503",
            "`not_yet_consistent` (the read model has not yet applied the consistency token) or \
             `unavailable` (query service down); retry after `Retry-After` seconds",
            true,
        ),
        (
            "504",
            "The query service did not answer in time (`timeout`)",
            false,
        ),
    ];
    for (status, description, retry_after) in common {
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        );
        if retry_after {
            response = response.header(
                "Retry-After",
                Header::builder()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        response = response.header(
            "X-Request-Id",
            Header::builder()
                .schema(string_schema(None))
                .description(Some("The request's id, also in error bodies and the logs"))
                .build(),
        );
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    }
}
