//! What every gRPC server of the shop serves besides its own services: `grpc.health.v1.Health`,
//! with each of its own services reported serving, and server reflection listing them all.
//!
//! Reflection comes in both versions: grpcurl asks for v1, many clients (grpc-requests, older
//! tooling) only speak v1alpha. Health and reflection need no token: add the process's own
//! services already wrapped in their interceptor.

use std::convert::Infallible;

use tonic::{
    body::Body,
    codegen::{Service, http::Request},
    server::NamedService,
    service::Routes,
    transport::server::{Router, Server},
};
use tonic_health::ServingStatus;
pub use tonic_health::server::HealthReporter;
use tonic_reflection::server::Builder as ReflectionBuilder;

use crate::{StartupError, framing::OneMessage};

/// The root span of every gRPC call a server answers (`Server::builder().trace_fn(request_span)`):
/// its path, the `x-request-id` the HTTP gateway forwards and the `x-correlation-id` a client
/// sends with a command (each empty when absent), so one request can be followed across logs.
pub fn request_span(request: &Request<()>) -> tracing::Span {
    tracing::info_span!(
        "grpc",
        path = %request.uri().path(),
        request_id = header(request, proto::contract::REQUEST_ID),
        correlation_id = header(request, proto::contract::CORRELATION_ID),
    )
}

/// A header's value as text, borrowed from the request (empty when absent or not text): the
/// span records it without an allocation per call.
fn header<'a>(request: &'a Request<()>, name: &str) -> &'a str {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// A gRPC server's own services, collected with their names for health and reflection.
///
/// ```ignore
/// let (router, health) = GrpcServices::default()
///     .add_service(InterceptedService::new(CatalogQueriesServer::new(services), auth))
///     .into_router(Server::builder(), &[proto::FILE_DESCRIPTOR_SET])
///     .await?;
/// ```
#[derive(Debug, Default)]
pub struct GrpcServices {
    routes: Routes,
    names: Vec<&'static str>,
}

impl GrpcServices {
    /// Adds one of the process's own services (its name is the generated server's), behind
    /// [`OneMessage`]: every service of the shop is unary, so a request body that is not exactly
    /// one complete frame is refused with `INVALID_ARGUMENT` before tonic reads it.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(OneMessage::new(service));
        self
    }

    /// [`GrpcServices::with_health_and_reflection`], served by `server` (with the process's
    /// timeout and request span already set): the router to serve and the health reporter,
    /// which must live as long as the server.
    pub async fn into_router<L: Clone>(
        self,
        mut server: Server<L>,
        descriptor_sets: &[&'static [u8]],
    ) -> Result<(Router<L>, HealthReporter), StartupError> {
        let (routes, health) = self.with_health_and_reflection(descriptor_sets).await?;
        Ok((server.add_routes(routes), health))
    }

    /// The names of the services added so far, in order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Adds the health service, reporting every service added so far serving, and reflection
    /// (v1 and v1alpha) over `descriptor_sets` (the encoded file descriptor sets of the
    /// process's contracts; health's own is added here) listing health and those services.
    /// Returns the routes to serve (`Server::add_routes`, or see [`GrpcServices::into_router`])
    /// and the health reporter, which must live as long as the server: dropping it ends health
    /// watches.
    pub async fn with_health_and_reflection(
        self,
        descriptor_sets: &[&'static [u8]],
    ) -> Result<(Routes, HealthReporter), StartupError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in &self.names {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        let names: Vec<&'static str> = std::iter::once(name_of(&health_service))
            .chain(self.names)
            .collect();
        let reflection = || {
            let builder = descriptor_sets.iter().fold(
                ReflectionBuilder::configure(),
                |builder, descriptor_set| {
                    builder.register_encoded_file_descriptor_set(descriptor_set)
                },
            );
            names.iter().fold(
                builder.register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |builder, name| builder.with_service_name(*name),
            )
        };
        let routes = self
            .routes
            // Health's generated server (tonic's codec) calls an undecodable request INTERNAL.
            .add_service(
                OneMessage::decoding::<tonic_health::pb::HealthCheckRequest>(health_service),
            )
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);
        Ok((routes, health))
    }
}

fn name_of<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

#[cfg(test)]
mod tests {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus as Status,
        health_client::HealthClient,
    };
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };

    use super::*;

    #[test]
    fn added_services_are_named_by_their_generated_server() {
        // Any generated server would do; health's is at hand.
        let (_, service) = tonic_health::server::health_reporter();
        let services = GrpcServices::default().add_service(service);
        assert_eq!(services.names(), ["grpc.health.v1.Health"]);
    }

    /// Serves health and reflection alone on a free port.
    async fn serve() -> std::net::SocketAddr {
        let (router, health) = GrpcServices::default()
            .into_router(tonic::transport::Server::builder(), &[])
            .await
            .unwrap();
        let (listener, address) = crate::listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        tokio::spawn(async move {
            let _health = health;
            router
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
        });
        address
    }

    async fn channel(address: std::net::SocketAddr) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn health_answers_serving() {
        let address = serve().await;
        let mut client = HealthClient::new(channel(address).await);
        let response = client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(response.into_inner().status(), Status::Serving);
    }

    #[tokio::test]
    async fn reflection_lists_the_health_service() {
        let address = serve().await;
        let mut client = ServerReflectionClient::new(channel(address).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(tonic::codegen::tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let response = responses.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected response {response:?}");
        };
        let names: Vec<String> = list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect();
        assert!(
            names.contains(&"grpc.health.v1.Health".to_owned()),
            "{names:?}"
        );
    }
}
