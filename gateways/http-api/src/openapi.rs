//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations (collected by [`routes::api`], which declares every route) and the message
//! types, served at `GET /api/v1/openapi.json`.
//!
//! What every route shares is added once, by [`ApiConventions`], rather than repeated on each
//! handler: the `X-Request-Id` header (request and response), and for the token-protected routes
//! (everything under `/api/v1/` but this document and the payment provider's webhook, which is
//! signed instead) the bearer security requirement, the `X-Consistency-Token` header and the
//! error responses any of them can give (400, 401, 500, 503 with `Retry-After`).
//!
//! The `X-Consistency-Token` of a route that reads a read model names a stream of a category
//! that model follows ([`CONSISTENCY_CATEGORIES`]); the query service refuses any other (400),
//! so the document's pattern names those categories. The payment callback's schemas get the
//! checks the webhook makes beyond the types ([`constrain_callback`]): the id prefixes, positive
//! amounts and times, the currency's shape, and the field each event type requires.
//!
//! [`LINKS`] ties each answer to the operations its ids lead to (a list to its items' details and
//! its next page, an order to its payment and checkout, an event to its stream and causal
//! chain), as OpenAPI links: what a client follows, and what schemathesis's stateful phase
//! chains so that it calls the detail routes with ids that exist.

use std::sync::LazyLock;

use aggregates::{Aggregate, Cart, Checkout, Customer, Order, Product, payment::Payment};
use axum::{http::header, response::IntoResponse};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, Header, Ref, RefOr, Required, ResponseBuilder,
        link::LinkBuilder,
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
        (name = "audit", description = "The audit trail of the event log: stream histories, causal chains, who did what when, counts, past states, a customer's events; admin role required"),
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
static DOCUMENT: LazyLock<String> = LazyLock::new(to_json);

/// The document as served: [`generate`]'s, with its links' fields spelled as OpenAPI spells them.
/// utoipa 5 serializes a `Link`'s fields in snake case (`operation_id`, `operation_ref`,
/// `request_body`), which OpenAPI readers (schemathesis among them) do not recognise, so they are
/// renamed here, when the document is serialized.
pub fn to_json() -> String {
    let mut document = serde_json::to_value(generate()).expect("the OpenAPI document serializes");
    constrain_callback(&mut document);
    // `get_mut`, not indexing: indexing a JSON object for a missing key inserts a `null`.
    let links = document
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links"))
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|links| links.values_mut())
        .filter_map(serde_json::Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(from) {
                link.insert(to.to_owned(), value);
            }
        }
    }
    document.to_string()
}

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
        add_links(openapi);
    }
}

/// One link: (from operation, link name, to operation, the target's parameters).
pub type LinkSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The links of the 200 answers: (from operation, link name, to operation, the target's
/// parameters as `(name, runtime expression)`). Operation ids are the handlers' names.
pub const LINKS: &[LinkSpec] = &[
    (
        "list_products",
        "GetProduct",
        "get_product",
        &[("product_id", "$response.body#/products/0/product_id")],
    ),
    (
        "list_products",
        "NextPage",
        "list_products",
        &[("cursor", "$response.body#/next_cursor")],
    ),
    ("me", "GetOwnCart", "own_cart", &[]),
    ("me", "ListOwnOrders", "own_orders", &[]),
    ("me", "ListOwnPayments", "own_payments", &[]),
    (
        "me",
        "GetCustomer",
        "admin_customer",
        &[("customer_id", "$response.body#/customer_id")],
    ),
    (
        "own_orders",
        "GetOrder",
        "get_order",
        &[("order_id", "$response.body#/orders/0/order_id")],
    ),
    (
        "own_orders",
        "GetCheckout",
        "get_checkout",
        &[("order_id", "$response.body#/orders/0/order_id")],
    ),
    (
        "own_orders",
        "NextPage",
        "own_orders",
        &[("cursor", "$response.body#/next_cursor")],
    ),
    (
        "get_order",
        "GetCheckout",
        "get_checkout",
        &[("order_id", "$response.body#/order_id")],
    ),
    (
        "get_order",
        "GetPayment",
        "get_payment",
        &[("payment_id", "$response.body#/payment_id")],
    ),
    (
        "own_payments",
        "GetPayment",
        "get_payment",
        &[("payment_id", "$response.body#/payments/0/payment_id")],
    ),
    (
        "own_payments",
        "NextPage",
        "own_payments",
        &[("cursor", "$response.body#/next_cursor")],
    ),
    (
        "get_payment",
        "GetOrder",
        "get_order",
        &[("order_id", "$response.body#/order_id")],
    ),
    (
        "get_checkout",
        "GetOrder",
        "get_order",
        &[("order_id", "$response.body#/order_id")],
    ),
    (
        "get_checkout",
        "GetPayment",
        "get_payment",
        &[("payment_id", "$response.body#/payment_id")],
    ),
    (
        "admin_customer",
        "GetCart",
        "admin_cart",
        &[("customer_id", "$response.body#/customer_id")],
    ),
    (
        "admin_customer",
        "ListOrders",
        "admin_orders",
        &[("customer_id", "$response.body#/customer_id")],
    ),
    (
        "admin_customer",
        "ListPayments",
        "admin_payments",
        &[("customer_id", "$response.body#/customer_id")],
    ),
    (
        "admin_customer",
        "ListEvents",
        "subject_events",
        &[("customer_id", "$response.body#/customer_id")],
    ),
    (
        "admin_orders",
        "GetOrder",
        "get_order",
        &[("order_id", "$response.body#/orders/0/order_id")],
    ),
    (
        "admin_orders",
        "NextPage",
        "admin_orders",
        &[
            ("customer_id", "$request.path.customer_id"),
            ("cursor", "$response.body#/next_cursor"),
        ],
    ),
    (
        "admin_payments",
        "GetPayment",
        "get_payment",
        &[("payment_id", "$response.body#/payments/0/payment_id")],
    ),
    (
        "admin_payments",
        "NextPage",
        "admin_payments",
        &[
            ("customer_id", "$request.path.customer_id"),
            ("cursor", "$response.body#/next_cursor"),
        ],
    ),
    (
        "stuck_checkouts",
        "GetCheckout",
        "get_checkout",
        &[("order_id", "$response.body#/checkouts/0/order_id")],
    ),
    (
        "stuck_checkouts",
        "NextPage",
        "stuck_checkouts",
        &[("cursor", "$response.body#/next_cursor")],
    ),
    (
        "stream_history",
        "GetState",
        "aggregate_state",
        &[("stream_id", "$request.path.stream_id")],
    ),
    (
        "stream_history",
        "GetCausalChain",
        "causal_chain",
        &[(
            "correlation_id",
            "$response.body#/events/0/metadata/correlation_id",
        )],
    ),
    (
        "stream_history",
        "NextPage",
        "stream_history",
        &[
            ("stream_id", "$request.path.stream_id"),
            ("direction", "$request.query.direction"),
            ("cursor", "$response.body#/next_cursor"),
        ],
    ),
    (
        "causal_chain",
        "GetStreamHistory",
        "stream_history",
        &[("stream_id", "$response.body#/streams/0")],
    ),
    (
        "causal_chain",
        "GetState",
        "aggregate_state",
        &[("stream_id", "$response.body#/streams/0")],
    ),
    (
        "events_by_actor",
        "GetStreamHistory",
        "stream_history",
        &[("stream_id", "$response.body#/events/0/stream_id")],
    ),
    (
        "events_by_actor",
        "GetCausalChain",
        "causal_chain",
        &[(
            "correlation_id",
            "$response.body#/events/0/metadata/correlation_id",
        )],
    ),
    (
        "events_by_actor",
        "NextPage",
        "events_by_actor",
        &[
            ("actor", "$request.query.actor"),
            ("from", "$request.query.from"),
            ("to", "$request.query.to"),
            ("cursor", "$response.body#/next_cursor"),
        ],
    ),
    (
        "events_by_type",
        "GetStreamHistory",
        "stream_history",
        &[("stream_id", "$response.body#/events/0/stream_id")],
    ),
    (
        "events_by_type",
        "GetCausalChain",
        "causal_chain",
        &[(
            "correlation_id",
            "$response.body#/events/0/metadata/correlation_id",
        )],
    ),
    (
        "events_by_type",
        "NextPage",
        "events_by_type",
        &[
            ("type", "$request.query.type"),
            ("from", "$request.query.from"),
            ("to", "$request.query.to"),
            ("cursor", "$response.body#/next_cursor"),
        ],
    ),
    (
        "aggregate_state",
        "GetStreamHistory",
        "stream_history",
        &[("stream_id", "$response.body#/stream_id")],
    ),
    (
        "subject_events",
        "GetStreamHistory",
        "stream_history",
        &[("stream_id", "$response.body#/events/0/stream_id")],
    ),
    (
        "subject_events",
        "NextPage",
        "subject_events",
        &[
            ("customer_id", "$request.path.customer_id"),
            ("cursor", "$response.body#/next_cursor"),
        ],
    ),
];

/// Adds [`LINKS`] to the 200 answers of their operations.
fn add_links(openapi: &mut openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let Some(operation) = item.get.as_mut() else {
            continue;
        };
        let Some(id) = operation.operation_id.clone() else {
            continue;
        };
        let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else {
            continue;
        };
        for (_, name, target, parameters) in LINKS.iter().filter(|(from, ..)| *from == id) {
            let link = parameters.iter().fold(
                LinkBuilder::new().operation_id(*target),
                |link, (parameter, expression)| link.parameter(*parameter, *expression),
            );
            ok.links.insert((*name).to_owned(), RefOr::T(link.build()));
        }
    }
}

/// The categories of the streams whose consistency tokens a route takes: those the read model it
/// reads follows (`projections::read_models::registry`, checked by the tests), by operation id.
/// The audit routes (absent here) read the log itself, which has every acknowledged write: their
/// token is checked for its shape only, any category.
pub const CONSISTENCY_CATEGORIES: &[(&str, &[&str])] = &[
    ("list_products", &[Product::CATEGORY]),
    ("get_product", &[Product::CATEGORY]),
    ("me", &[Customer::CATEGORY]),
    ("admin_customer", &[Customer::CATEGORY]),
    ("own_cart", &[Cart::CATEGORY, Product::CATEGORY]),
    ("admin_cart", &[Cart::CATEGORY, Product::CATEGORY]),
    ("own_orders", &[Order::CATEGORY]),
    ("get_order", &[Order::CATEGORY]),
    ("admin_orders", &[Order::CATEGORY]),
    ("own_payments", &[Payment::CATEGORY]),
    ("get_payment", &[Payment::CATEGORY]),
    ("admin_payments", &[Payment::CATEGORY]),
    ("get_checkout", &[Checkout::CATEGORY]),
    ("stuck_checkouts", &[Checkout::CATEGORY]),
];

/// The pattern of the `X-Consistency-Token` of operation `id`: `<category>-<uuid>@<version>`,
/// the category one [`CONSISTENCY_CATEGORIES`] lists for it, or any when it lists none.
fn consistency_pattern(id: Option<&str>) -> String {
    let category = CONSISTENCY_CATEGORIES
        .iter()
        .find(|(operation, _)| Some(*operation) == id)
        .map_or_else(
            || "[a-z0-9_]+".to_owned(),
            |(_, categories)| format!("({})", categories.join("|")),
        );
    format!(
        "^{category}-[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}@[0-9]{{1,19}}$"
    )
}

/// Adds to the payment callback's schemas (`PaymentCallback`, `PaymentCallbackData`, generated
/// from the `webhook` crate's types) what `webhook::Event::from_json` checks beyond the types, so
/// that a body the document calls valid is one the webhook takes: ids `evt_`, `ch_` and `re_`
/// followed by letters, digits, `_` or `-` (at most 200 bytes in all), a positive time and
/// amount, a currency of three uppercase letters, a failure reason that is not blank (at most
/// 200 bytes: 50 characters of up to 4 bytes are sure to fit), and `failure_reason` required on
/// `charge.failed`, `refund_id` on `refund.succeeded`. Done on the JSON, as utoipa has no
/// `if`/`then`.
fn constrain_callback(document: &mut serde_json::Value) {
    use serde_json::json;
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let id = |prefix: &str| {
        json!({
            "pattern": format!("^{prefix}_[A-Za-z0-9_-]+$"),
            "maxLength": webhook::MAX_TEXT_LEN,
        })
    };
    let constraints = [
        (
            "PaymentCallback",
            json!({"id": id("evt"), "created": {"minimum": 1}}),
        ),
        (
            "PaymentCallbackData",
            json!({
                "charge_id": id("ch"),
                "refund_id": id("re"),
                "amount_minor": {"minimum": 1},
                "currency": {"pattern": "^[A-Z]{3}$"},
                "failure_reason": {
                    "pattern": "\\S",
                    "minLength": 1,
                    "maxLength": webhook::MAX_TEXT_LEN / 4,
                },
            }),
        ),
    ];
    for (name, properties) in constraints {
        let Some(target) = schemas
            .get_mut(name)
            .and_then(|schema| schema.get_mut("properties"))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        for (property, keywords) in properties.as_object().into_iter().flatten() {
            if let (Some(schema), Some(keywords)) = (
                target
                    .get_mut(property)
                    .and_then(serde_json::Value::as_object_mut),
                keywords.as_object(),
            ) {
                schema.extend(keywords.clone());
            }
        }
    }
    let requires = |kind: &str, field: &str| {
        json!({
            "if": {"properties": {"type": {"const": kind}}},
            "then": {"properties": {"data": {
                "required": [field],
                "properties": {field: {"type": "string"}},
            }}},
        })
    };
    if let Some(event) = schemas
        .get_mut("PaymentCallback")
        .and_then(serde_json::Value::as_object_mut)
    {
        event.insert(
            "allOf".to_owned(),
            json!([
                requires("charge.failed", "failure_reason"),
                requires("refund.succeeded", "refund_id"),
            ]),
        );
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
    operation.parameters.get_or_insert_with(Vec::new).push(
        ParameterBuilder::new()
            .name("X-Consistency-Token")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Read-your-writes: `<stream_id>@<version>` as a command returned it, e.g. \
                     `cart-5b0c8a52-3c1e-4d0e-9a55-4b7d2f1f0a11@3`. The answer then reflects at \
                     least that version, or is 503 `not_yet_consistent`",
            ))
            .schema(Some(string_schema(Some(&consistency_pattern(
                operation.operation_id.as_deref(),
            )))))
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
            "`not_yet_consistent` (the read model has not yet applied the consistency token), \
             `unavailable` (query service down) or `timeout` (no answer in time); retry after \
             `Retry-After` seconds",
            true,
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
