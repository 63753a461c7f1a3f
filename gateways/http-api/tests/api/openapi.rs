use serde_json::Value;

use crate::helpers::*;

const ROUTES: [&str; 24] = [
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
    "/api/v1/admin/audit/streams/{stream_id}/events",
    "/api/v1/admin/audit/correlations/{correlation_id}",
    "/api/v1/admin/audit/events/by-actor",
    "/api/v1/admin/audit/events/by-type",
    "/api/v1/admin/audit/counts",
    "/api/v1/admin/audit/streams/{stream_id}/state",
    "/api/v1/admin/audit/customers/{customer_id}/events",
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
        for status in ["200", "400", "401", "500", "503"] {
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

/// The operations of the document by id, each with its parameters' names.
fn operations(doc: &Value) -> Vec<(String, Vec<String>)> {
    let mut operations = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let parameters = operation["parameters"]
                .as_array()
                .map(|parameters| {
                    parameters
                        .iter()
                        .map(|p| p["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            operations.push((id.to_owned(), parameters));
        }
    }
    operations
}

#[tokio::test]
async fn the_document_declares_the_ids_limits_and_cursors_the_api_enforces() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let mut cursors = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(parameters) = item["get"]["parameters"].as_array() else {
            continue;
        };
        for parameter in parameters {
            let name = parameter["name"].as_str().unwrap();
            let schema = &parameter["schema"];
            match (parameter["in"].as_str().unwrap(), name) {
                ("path", "stream_id") => {
                    assert!(schema["pattern"].is_string(), "{path} {name}: {schema}");
                    assert_eq!(schema["maxLength"], 256, "{path} {name}");
                }
                ("path", _) => {
                    assert!(name.ends_with("_id"), "{path} {name}");
                    assert_eq!(schema["format"], "uuid", "{path} {name}: {schema}");
                }
                ("query", "limit") => {
                    assert_eq!(schema["minimum"], 1, "{path} limit: {schema}");
                    assert!(
                        schema["maximum"] == 100 || schema["maximum"] == 500,
                        "{path} limit: {schema}"
                    );
                }
                ("query", "cursor") => {
                    cursors += 1;
                    let pattern = schema["pattern"].as_str().unwrap_or_else(|| {
                        panic!("{path}: the cursor's shape is declared: {schema}")
                    });
                    assert!(
                        pattern.starts_with('^') && pattern.ends_with('$'),
                        "{path} {pattern}"
                    );
                }
                ("header", "X-Consistency-Token" | "X-Request-Id") => {
                    assert!(schema["pattern"].is_string(), "{path} {name}: {schema}");
                }
                _ => {}
            }
        }
    }
    assert_eq!(cursors, 10, "every paged list takes a cursor");
    let cursor = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "cursor")
            .unwrap()["schema"]["pattern"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(cursor("/api/v1/orders"), "^[0-9]{1,18}$");
    assert!(cursor("/api/v1/products").starts_with("^[0-9a-fA-F]{8}-"));
    assert_eq!(
        cursor("/api/v1/admin/audit/streams/{stream_id}/events"),
        "^[fb][0-9]{1,19}$"
    );
}

#[tokio::test]
async fn lists_link_to_their_items_details_and_next_pages_and_every_link_resolves() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let operations = operations(&doc);
    let mut links = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                let links = response.get("links");
                assert!(
                    links.is_none_or(Value::is_object),
                    "{path} {status}: links are an object when present"
                );
            }
            let Some(found) = operation["responses"]["200"]["links"].as_object() else {
                continue;
            };
            for (name, link) in found {
                links += 1;
                let target = link["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path} {name} names its operation: {link}"));
                let (_, parameters) = operations
                    .iter()
                    .find(|(id, _)| id == target)
                    .unwrap_or_else(|| panic!("{path} {name}: no operation {target}"));
                for (parameter, expression) in link["parameters"].as_object().into_iter().flatten()
                {
                    assert!(
                        parameters.contains(parameter),
                        "{path} {name}: {target} takes no {parameter}"
                    );
                    let expression = expression.as_str().unwrap();
                    assert!(
                        expression.starts_with("$response.body#/")
                            || expression.starts_with("$request."),
                        "{path} {name}: {expression}"
                    );
                }
            }
        }
    }
    assert!(links >= 30, "{links} links");
    let link = |path: &str, name: &str| {
        doc["paths"][path]["get"]["responses"]["200"]["links"][name].clone()
    };
    assert_eq!(
        link("/api/v1/products", "GetProduct"),
        serde_json::json!({
            "operationId": "get_product",
            "parameters": {"product_id": "$response.body#/products/0/product_id"},
        })
    );
    assert_eq!(
        link("/api/v1/orders", "GetOrder")["parameters"]["order_id"],
        "$response.body#/orders/0/order_id"
    );
    assert_eq!(
        link("/api/v1/payments", "GetPayment")["parameters"]["payment_id"],
        "$response.body#/payments/0/payment_id"
    );
    // Every paged list links to its next page with its cursor.
    for (path, item) in doc["paths"].as_object().unwrap() {
        let get = &item["get"];
        let takes_cursor = get["parameters"]
            .as_array()
            .is_some_and(|parameters| parameters.iter().any(|p| p["name"] == "cursor"));
        if takes_cursor {
            assert_eq!(
                get["responses"]["200"]["links"]["NextPage"]["parameters"]["cursor"],
                "$response.body#/next_cursor",
                "{path}"
            );
        }
    }
}

/// The pattern of a route's `X-Consistency-Token`.
fn consistency_pattern(doc: &Value, path: &str) -> String {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "X-Consistency-Token")
        .unwrap_or_else(|| panic!("{path} takes a consistency token"))["schema"]["pattern"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_routes_consistency_token_names_a_category_its_read_model_follows() {
    use projections::read_models::registry::{
        CART_VIEW, CATALOG, CHECKOUTS, CUSTOMERS, ORDERS, PAYMENTS, ReadModelSpec,
    };
    let app = TestApp::start().await;
    let doc = document(&app).await;
    // The read model each route's query service answers from (gateways/query/src/services).
    let models: [(&str, ReadModelSpec); 14] = [
        ("list_products", CATALOG),
        ("get_product", CATALOG),
        ("me", CUSTOMERS),
        ("admin_customer", CUSTOMERS),
        ("own_cart", CART_VIEW),
        ("admin_cart", CART_VIEW),
        ("own_orders", ORDERS),
        ("get_order", ORDERS),
        ("admin_orders", ORDERS),
        ("own_payments", PAYMENTS),
        ("get_payment", PAYMENTS),
        ("admin_payments", PAYMENTS),
        ("get_checkout", CHECKOUTS),
        ("stuck_checkouts", CHECKOUTS),
    ];
    let declared = http_api::openapi::CONSISTENCY_CATEGORIES;
    assert_eq!(declared.len(), models.len());
    for (operation, model) in models {
        let (_, categories) = declared
            .iter()
            .find(|(id, _)| *id == operation)
            .unwrap_or_else(|| panic!("{operation} declares its categories"));
        assert_eq!(*categories, model.categories, "{operation}");
    }
    let uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    for (path, item) in doc["paths"].as_object().unwrap() {
        let get = &item["get"];
        if get.get("security").is_none() {
            continue;
        }
        let id = get["operationId"].as_str().unwrap();
        let pattern = consistency_pattern(&doc, path);
        let category = match declared.iter().find(|(operation, _)| *operation == id) {
            Some((_, categories)) => format!("({})", categories.join("|")),
            None => {
                assert!(
                    path.contains("/admin/audit/"),
                    "{path} names its categories"
                );
                "[a-z0-9_]+".to_owned()
            }
        };
        assert_eq!(
            pattern,
            format!("^{category}-{uuid}@[0-9]{{1,19}}$"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_aggregates_state_is_asked_of_an_aggregates_stream() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let stream =
        &doc["paths"]["/api/v1/admin/audit/streams/{stream_id}/state"]["get"]["parameters"][0];
    assert_eq!(stream["name"], "stream_id");
    let pattern = stream["schema"]["pattern"].as_str().unwrap();
    assert!(
        pattern.starts_with(&format!("^({})-", aggregates::CATEGORIES.join("|"))),
        "{pattern}"
    );
}

#[tokio::test]
async fn the_callback_schemas_declare_the_webhooks_checks() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let event = &schemas["PaymentCallback"];
    assert_eq!(event["properties"]["id"]["pattern"], "^evt_[A-Za-z0-9_-]+$");
    assert_eq!(event["properties"]["id"]["maxLength"], 200);
    assert_eq!(event["properties"]["created"]["minimum"], 1);
    let data = &schemas["PaymentCallbackData"]["properties"];
    assert_eq!(data["charge_id"]["pattern"], "^ch_[A-Za-z0-9_-]+$");
    assert_eq!(data["refund_id"]["pattern"], "^re_[A-Za-z0-9_-]+$");
    assert_eq!(data["amount_minor"]["minimum"], 1);
    assert_eq!(data["currency"]["pattern"], "^[A-Z]{3}$");
    assert_eq!(data["failure_reason"]["minLength"], 1);
    let required: Vec<(&str, &str)> = event["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            (
                rule["if"]["properties"]["type"]["const"].as_str().unwrap(),
                rule["then"]["properties"]["data"]["required"][0]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        required,
        [
            ("charge.failed", "failure_reason"),
            ("refund.succeeded", "refund_id")
        ]
    );
}
