//! What every process serves besides its commands: health, reflection, the request size limit.

use command::ServiceKind;
use futures::StreamExt;
use proto::customer::RegisterRequest;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving_without_a_token() {
    let app = spawn_app(ServiceKind::Product).await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in [
        "",
        "commerce.product.v1.ProductCommands",
        "commerce.product.v1.ProductStock",
    ] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }
    assert_code(
        health
            .check(HealthCheckRequest {
                service: "commerce.customer.v1.CustomerCommands".into(),
            })
            .await,
        Code::NotFound,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services_of_this_process() {
    let app = spawn_app(ServiceKind::Customer).await;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"commerce.customer.v1.CustomerCommands".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"commerce.product.v1.ProductCommands".to_owned()),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_refused_with_a_clear_error() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let request = RegisterRequest {
        command_id: cid(),
        customer_id: id.to_string(),
        email: "ada@example.com".into(),
        name: "A".repeat(100 * 1024),
        currency: "EUR".into(),
    };
    let status = assert_code(
        app.customers()
            .register(authed(request, &app.customer(id)))
            .await,
        Code::OutOfRange,
    );
    assert!(status.message().contains("too large"), "{status:?}");
    assert_eq!(app.db.event_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cart_order_and_payment_services_report_health_and_list_themselves() {
    let cases = [
        (ServiceKind::Cart, "commerce.cart.v1.CartCommands"),
        (ServiceKind::Order, "commerce.order.v1.OrderCommands"),
        (ServiceKind::Payment, "commerce.payment.v1.PaymentCommands"),
    ];
    for (kind, service) in cases {
        let app = spawn_app(kind).await;
        let mut health = HealthClient::new(app.channel.clone());
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service}");
        let names = listed_services(&app).await;
        assert!(names.contains(&service.to_owned()), "{names:?}");
        assert!(
            names.contains(&"grpc.health.v1.Health".to_owned()),
            "{names:?}"
        );
        assert_eq!(names.len(), 2, "health and {service} only: {names:?}");
    }
}

async fn listed_services(app: &TestApp) -> Vec<String> {
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    list.service.into_iter().map(|s| s.name).collect()
}
