use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn a_sane_client_request_id_is_echoed_and_forwarded() {
    let app = TestApp::start().await;
    let response = app
        .get_with(
            "/api/v1/products",
            Some(&customer_token(CUSTOMER_A)),
            &[("x-request-id", "client-req_1.2")],
        )
        .await;
    response.ok();
    assert_eq!(response.headers["x-request-id"], "client-req_1.2");
    assert_eq!(
        app.fake.received.only().request_id.as_deref(),
        Some("client-req_1.2")
    );
}

#[tokio::test]
async fn a_missing_or_insane_request_id_is_replaced_by_a_fresh_uuid() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    let too_long = "a".repeat(65);
    let cases: [&[(&str, &str)]; 4] = [
        &[],
        &[("x-request-id", "has spaces in it")],
        &[("x-request-id", "semi;colon")],
        &[("x-request-id", &too_long)],
    ];
    let mut ids = Vec::new();
    for headers in cases {
        let response = app
            .get_with("/api/v1/products", Some(&token), headers)
            .await;
        response.ok();
        let id = response.headers["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(Uuid::parse_str(&id).unwrap().get_version_num(), 4, "{id}");
        ids.push(id);
    }
    let forwarded: Vec<String> = app
        .fake
        .received
        .all()
        .into_iter()
        .map(|seen| seen.request_id.unwrap())
        .collect();
    assert_eq!(
        forwarded, ids,
        "the query service sees the id the client got back"
    );
    ids.dedup();
    assert_eq!(ids.len(), 4, "each request has its own id");
}

#[tokio::test]
async fn error_bodies_carry_the_request_id() {
    let app = TestApp::start().await;
    // 401 from the extractor, 404 from the fallback, 404 from the query service, 400 from
    // validation: all name the client's id.
    let token = customer_token(CUSTOMER_A);
    let cases = [
        ("/api/v1/me", None, 401),
        ("/nowhere", Some(token.clone()), 404),
        (
            "/api/v1/products/99999999-9999-4999-8999-999999999999",
            Some(token.clone()),
            404,
        ),
        ("/api/v1/orders?limit=0", Some(token), 400),
    ];
    for (path, token, status) in cases {
        let response = app
            .get_with(path, token.as_deref(), &[("x-request-id", "trace-me-42")])
            .await;
        assert_eq!(response.status.as_u16(), status, "{path}");
        assert_eq!(
            response.body["error"]["request_id"], "trace-me-42",
            "{path}"
        );
        assert_eq!(response.headers["x-request-id"], "trace-me-42", "{path}");
    }
}
