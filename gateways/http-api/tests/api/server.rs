//! The same router served by the real [`App`] on a port, as the binary runs it.

use std::time::Duration;

use http_api::{App, HttpConfig};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

use crate::helpers::*;

/// One HTTP/1.1 request over a fresh connection; the raw response.
async fn raw_get(address: std::net::SocketAddr, path: &str, token: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn the_app_serves_on_its_port_and_stops_when_told() {
    let fake = FakeQueryService::start(&auth::AuthConfig::development()).await;
    let mut config = HttpConfig::local();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.query_endpoint = fake.endpoint();
    let app = App::build(config).await.unwrap();
    let address = app.local_addr();
    assert_ne!(address.port(), 0);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        stopped.await.ok();
    }));

    let response = raw_get(
        address,
        &format!("/api/v1/orders/{ORDER_A1}"),
        &customer_token(CUSTOMER_A),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(ORDER_A1), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("x-request-id: "),
        "{response}"
    );
    let response = raw_get(address, "/readyz", "").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn the_app_starts_while_the_query_service_is_down() {
    let mut config = HttpConfig::local();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.query_endpoint = format!("http://{}", closed_port().await);
    let app = App::build(config).await.unwrap();
    let address = app.local_addr();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        stopped.await.ok();
    }));
    assert!(
        raw_get(address, "/healthz", "")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        raw_get(address, "/readyz", "")
            .await
            .starts_with("HTTP/1.1 503")
    );
}
