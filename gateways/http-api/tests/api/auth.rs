use crate::helpers::*;

#[tokio::test]
async fn every_api_route_is_401_without_a_valid_token_before_any_grpc_call() {
    let app = TestApp::start().await;
    let bad_tokens = [
        (None, "missing bearer token"),
        (Some(badly_signed_token()), "invalid token"),
        (Some(expired_token()), "token expired"),
        (Some(foreign_issuer_token()), "unknown issuer"),
        (Some("not.a.jwt".to_owned()), "invalid token"),
    ];
    for (path, _) in protected_routes() {
        for (token, expected) in &bad_tokens {
            let response = app.get(&path, token.as_deref()).await;
            let message = response.assert_error(401, "unauthenticated");
            assert!(message.contains(expected), "{path}: {message}");
            assert_eq!(response.headers["www-authenticate"], "Bearer", "{path}");
        }
        let message = app
            .get_with(&path, None, &[("authorization", "Basic YWxpY2U6cHc=")])
            .await
            .assert_error(401, "unauthenticated");
        assert!(message.contains("bearer"), "{path}: {message}");
    }
    assert!(app.fake.received.all().is_empty(), "no gRPC call was made");
}

#[tokio::test]
async fn every_api_route_answers_200_to_a_caller_it_admits() {
    let app = TestApp::start().await;
    for (path, token) in protected_routes() {
        let response = app.get(&path, Some(&token)).await;
        assert_eq!(response.status, 200, "{path}: {:#}", response.body);
        assert!(response.body.is_object(), "{path}");
    }
    assert_eq!(app.fake.received.all().len(), protected_routes().len());
}

#[tokio::test]
async fn the_token_is_checked_before_the_parameters() {
    let app = TestApp::start().await;
    for path in [
        "/api/v1/products/not-a-uuid",
        "/api/v1/orders?limit=0",
        "/api/v1/admin/customers/x/orders?status=lost",
    ] {
        app.get(path, None)
            .await
            .assert_error(401, "unauthenticated");
    }
}

#[tokio::test]
async fn the_callers_token_is_what_the_query_service_sees() {
    let app = TestApp::start().await;
    let routes = protected_routes();
    for (path, token) in &routes {
        app.get(path, Some(token)).await.ok();
    }
    let received = app.fake.received.all();
    assert_eq!(received.len(), routes.len());
    for (seen, (path, token)) in received.iter().zip(routes) {
        assert_eq!(
            seen.authorization.as_deref(),
            Some(format!("Bearer {token}").as_str()),
            "{path}"
        );
        assert!(seen.has_deadline, "{path}");
    }
}
