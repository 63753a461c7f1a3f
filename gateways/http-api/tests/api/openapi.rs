use serde_json::Value;

use crate::helpers::*;

const ROUTES: [&str; 17] = [
    "/api/v1/products",
    "/api/v1/products/{product_id}",
    "/api/v1/me",
    "/api/v1/cart",
    "/api/v1/orders",
    "/api/v1/orders/{order_id}",
    "/api/v1/payments",
    "/api/v1/payments/{payment_id}",
    "/api/v1/admin/customers/{customer_id}",
    "/api/v1/admin/customers/{customer_id}/cart",
    "/api/v1/admin/customers/{customer_id}/orders",
    "/api/v1/admin/customers/{customer_id}/payments",
    "/api/v1/orders/{order_id}/checkout",
    "/api/v1/admin/checkouts/stuck",
    "/healthz",
    "/readyz",
    "/api/v1/openapi.json",
];

/// The one route that takes a POST: the payment provider's webhook.
const WEBHOOK: &str = "/api/v1/webhooks/payments";

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(response.headers["content-type"], "application/json");
    response.ok().clone()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_listing_every_route_and_nothing_else() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = ROUTES.to_vec();
    expected.push(WEBHOOK);
    documented.sort_unstable();
    expected.sort_unstable();
    assert_eq!(documented, expected);
    for path in ROUTES {
        assert!(doc["paths"][path]["get"].is_object(), "{path} has a GET");
    }
    assert!(doc["paths"][WEBHOOK]["post"].is_object());
    assert!(doc["paths"][WEBHOOK].get("get").is_none());
}

#[tokio::test]
async fn the_webhook_is_documented_signed_not_bearer_protected_with_its_body_and_answers() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let post = &doc["paths"][WEBHOOK]["post"];
    assert!(post.get("security").is_none(), "no bearer token: {post:#}");
    let headers: Vec<&str> = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["Commerce-Signature", "X-Request-Id"]);
    let body = &post["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/PaymentCallback");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "PaymentCallback",
        "PaymentCallbackData",
        "PaymentCallbackType",
        "WebhookReceipt",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    let types = &schemas["PaymentCallbackType"]["enum"];
    assert_eq!(
        types,
        &serde_json::json!([
            "charge.pending",
            "charge.succeeded",
            "charge.failed",
            "refund.succeeded"
        ])
    );
    for status in ["200", "400", "401", "404", "413", "500", "503"] {
        assert!(post["responses"][status].is_object(), "documents {status}");
    }
    assert!(
        schemas["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .any(|code| code == "invalid_signature")
    );
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let admin = admin_token();
    for path in doc["paths"].as_object().unwrap().keys() {
        let concrete = path
            .replace("{product_id}", PRODUCT)
            .replace("{order_id}", ORDER_A1)
            .replace("{payment_id}", PAYMENT_A1)
            .replace("{customer_id}", CUSTOMER_A);
        let response = app.get(&concrete, Some(&admin)).await;
        let no_route =
            response.status == 404 && response.body["error"]["message"] == "no such route";
        assert!(!no_route, "{path} is documented but not routed");
    }
}

#[tokio::test]
async fn protected_routes_document_the_bearer_scheme_headers_and_error_responses() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    for path in ROUTES
        .iter()
        .filter(|p| p.starts_with("/api/v1/") && !p.ends_with("openapi.json"))
    {
        let get = &doc["paths"][path]["get"];
        assert_eq!(
            get["security"],
            serde_json::json!([{"bearer": []}]),
            "{path}"
        );
        let headers: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            headers.contains(&"X-Consistency-Token"),
            "{path}: {headers:?}"
        );
        assert!(headers.contains(&"X-Request-Id"), "{path}: {headers:?}");
        for status in ["200", "400", "401", "500", "503", "504"] {
            assert!(
                get["responses"][status].is_object(),
                "{path} documents {status}"
            );
        }
        let error = &get["responses"]["401"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(error, "#/components/schemas/ErrorBody", "{path}");
        assert!(
            get["responses"]["503"]["headers"]["Retry-After"].is_object(),
            "{path}"
        );
    }
    for path in ["/healthz", "/readyz", "/api/v1/openapi.json"] {
        assert!(
            doc["paths"][path]["get"].get("security").is_none(),
            "{path} is open"
        );
    }
}

#[tokio::test]
async fn the_document_describes_parameters_and_schemas() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] != "header")
            .map(|p| {
                format!(
                    "{}:{}",
                    p["in"].as_str().unwrap(),
                    p["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        params("/api/v1/products"),
        ["query:limit", "query:cursor", "query:q"]
    );
    assert_eq!(
        params("/api/v1/orders"),
        ["query:status", "query:limit", "query:cursor"]
    );
    assert_eq!(params("/api/v1/payments"), ["query:limit", "query:cursor"]);
    assert_eq!(
        params("/api/v1/admin/customers/{customer_id}/orders"),
        [
            "path:customer_id",
            "query:status",
            "query:limit",
            "query:cursor"
        ]
    );
    assert_eq!(params("/api/v1/orders/{order_id}"), ["path:order_id"]);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "ErrorDetail",
        "ErrorCode",
        "Product",
        "Sku",
        "Money",
        "Customer",
        "Cart",
        "CartLine",
        "Order",
        "OrderLine",
        "OrderTimeline",
        "Payment",
        "Refund",
        "ListProductsResponse",
        "ListOrdersResponse",
        "ListPaymentsResponse",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    let codes = &schemas["ErrorCode"]["enum"];
    for code in [
        "invalid_argument",
        "unauthenticated",
        "forbidden",
        "not_found",
        "not_yet_consistent",
        "unavailable",
        "timeout",
        "internal",
    ] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{code}"
        );
    }
    let limit = doc["paths"]["/api/v1/orders"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 100);
    let q = doc["paths"]["/api/v1/products"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "q")
        .unwrap()
        .clone();
    assert_eq!(q["schema"]["maxLength"], 200);
    let id = &doc["paths"]["/api/v1/orders/{order_id}"]["get"]["parameters"][0];
    assert_eq!(id["schema"]["format"], "uuid");
}
