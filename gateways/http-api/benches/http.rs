//! `scripts/bench http`: the HTTP read API under load, against two baselines measured in the
//! same run (docs/benchmark-method.md):
//!
//! - **bare**: a plain axum handler returning the same JSON bytes the gateway returns (what HTTP
//!   + JSON cost on their own);
//! - **bare + gRPC hop**: an axum handler that makes the same gRPC call to a trivial tonic
//!   handler (a canned message, no auth, no store) and serialises the answer (what the hop
//!   costs);
//! - **ours**: the gateway (JWT check, validation, request id, error mapping) → the real query
//!   service (JWT check again, cache, read model) over a projected checkout story in the real
//!   PostgreSQL and Redis. Answers are hot in the query service's cache, as a popular product
//!   and an active cart are.
//!
//! Two measurements per target, for product detail and cart:
//! 1. throughput: `BENCH_CONNECTIONS` (32) closed-loop connections for `BENCH_SECS` (5) s;
//!    interleaved bare / hop / ours, `BENCH_PAIRS` (3) times, median of the ratios;
//! 2. latency at a fixed offered rate `BENCH_RATE` (1000 req/s, open loop: each request has a
//!    scheduled start and its latency counts from there, so a stall is not hidden), p50 / p99.
//!
//! Client, servers and stores share the machine's cores: the figures are ratios, not capacity.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use ::query::testing;
use axum::{Router, body::Bytes, extract::State, http::header, routing::get};
use http_api::{App, HttpConfig};
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Uri};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use proto::query::{
    self, cart_queries_client::CartQueriesClient, cart_queries_server::CartQueriesServer,
    catalog_queries_client::CatalogQueriesClient, catalog_queries_server::CatalogQueriesServer,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tonic::transport::Channel;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// One endpoint to load: URL, bearer token, and the body length every answer must have.
#[derive(Clone)]
struct Target {
    uri: Uri,
    bearer: Option<String>,
    body_len: usize,
}

/// What one run measured.
struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn send(client: &HttpClient, target: &Target) -> Result<(), String> {
    let mut request = Request::get(target.uri.clone());
    if let Some(bearer) = &target.bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {bearer}"));
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    if !status.is_success() || body.len() != target.body_len {
        return Err(format!("{status}, {} bytes", body.len()));
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn figures(mut latencies: Vec<Duration>, errors: u64, elapsed: Duration) -> Figures {
    latencies.sort_unstable();
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        errors,
    }
}

/// `connections` clients each sending one request after the other for `secs`.
async fn closed_loop(
    client: &HttpClient,
    target: &Target,
    connections: usize,
    secs: f64,
) -> Figures {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, target) = (client.clone(), target.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match send(&client, &target).await {
                        Ok(()) => latencies.push(sent.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    figures(latencies, errors, started.elapsed())
}

/// Requests started on a fixed schedule of `rate` per second for `secs` (at most 512 in
/// flight); each latency counts from the request's scheduled start.
async fn open_loop(client: &HttpClient, target: &Target, rate: f64, secs: f64) -> Figures {
    let total = (rate * secs) as usize;
    let in_flight = Arc::new(Semaphore::new(512));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(scheduled).await;
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let (client, target) = (client.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let result = send(&client, &target).await;
            drop(permit);
            result.map(|()| scheduled.elapsed())
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(latency) => latencies.push(latency),
            Err(_) => errors += 1,
        }
    }
    figures(latencies, errors, started.elapsed())
}

/// A trivial tonic handler: the canned product and cart, nothing else.
#[derive(Clone)]
struct Canned {
    product: query::Product,
    cart: query::Cart,
}

#[tonic::async_trait]
impl query::catalog_queries_server::CatalogQueries for Canned {
    async fn list_products(
        &self,
        _: tonic::Request<query::ListProductsRequest>,
    ) -> Result<tonic::Response<query::ListProductsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not measured"))
    }
    async fn get_product(
        &self,
        _: tonic::Request<query::GetProductRequest>,
    ) -> Result<tonic::Response<query::Product>, tonic::Status> {
        Ok(tonic::Response::new(self.product.clone()))
    }
}

#[tonic::async_trait]
impl query::cart_queries_server::CartQueries for Canned {
    async fn get_cart(
        &self,
        _: tonic::Request<query::GetCartRequest>,
    ) -> Result<tonic::Response<query::Cart>, tonic::Status> {
        Ok(tonic::Response::new(self.cart.clone()))
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

fn json(bytes: Bytes) -> ([(header::HeaderName, &'static str); 1], Bytes) {
    ([(header::CONTENT_TYPE, "application/json")], bytes)
}

/// The two baselines: `/product` and `/cart` answered from bytes (bare) or through a gRPC hop
/// to the canned handler (hop).
async fn baselines(product: Bytes, cart: Bytes, canned: Canned) -> (SocketAddr, SocketAddr) {
    let bare = Router::new()
        .route(
            "/product",
            get({
                let product = product.clone();
                move || std::future::ready(json(product.clone()))
            }),
        )
        .route(
            "/cart",
            get({
                let cart = cart.clone();
                move || std::future::ready(json(cart.clone()))
            }),
        );
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_address = grpc.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CatalogQueriesServer::new(canned.clone()))
            .add_service(CartQueriesServer::new(canned))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(grpc)),
    );
    let channel = Channel::from_shared(format!("http://{grpc_address}"))
        .unwrap()
        .connect_lazy();
    let hop = Router::new()
        .route(
            "/product",
            get(|State(channel): State<Channel>| async move {
                let product = CatalogQueriesClient::new(channel)
                    .get_product(query::GetProductRequest::default())
                    .await
                    .unwrap()
                    .into_inner();
                json(serde_json::to_vec(&product).unwrap().into())
            }),
        )
        .route(
            "/cart",
            get(|State(channel): State<Channel>| async move {
                let cart = CartQueriesClient::new(channel)
                    .get_cart(query::GetCartRequest::default())
                    .await
                    .unwrap()
                    .into_inner();
                json(serde_json::to_vec(&cart).unwrap().into())
            }),
        )
        .with_state(channel);
    (serve(bare).await, serve(hop).await)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let secs: f64 = env_or("BENCH_SECS", 5.0);
    let pairs: usize = env_or("BENCH_PAIRS", 3);
    let connections: usize = env_or("BENCH_CONNECTIONS", 32);
    let rate: f64 = env_or("BENCH_RATE", 1000.0);

    // Ours: the gateway over the real query service over the projected story.
    let world = testing::World::start(Duration::from_secs(2)).await;
    let s = &world.story;
    let alice = testing::customer(s.alice);
    let mut config = HttpConfig::local();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.query_endpoint = format!("http://{}", world.query_addr);
    let gateway = App::build(config).await.expect("gateway builds");
    let gateway_address = gateway.local_addr();
    tokio::spawn(gateway.run_until(std::future::pending()));

    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let fetch = |uri: String| {
        let client = client.clone();
        let bearer = alice.clone();
        async move {
            let request = Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = client.request(request).await.unwrap();
            assert!(response.status().is_success());
            response.into_body().collect().await.unwrap().to_bytes()
        }
    };
    let product_path = format!("/api/v1/products/{}", s.shoe);
    let product = fetch(format!("http://{gateway_address}{product_path}")).await;
    let cart = fetch(format!("http://{gateway_address}/api/v1/cart")).await;
    let mut catalog = CatalogQueriesClient::new(world.channel.clone());
    let mut carts = CartQueriesClient::new(world.channel.clone());
    let canned = Canned {
        product: catalog
            .get_product(testing::authed(
                &alice,
                query::GetProductRequest {
                    product_id: s.shoe.to_string(),
                    consistency: None,
                },
            ))
            .await
            .unwrap()
            .into_inner(),
        cart: carts
            .get_cart(testing::authed(
                &alice,
                query::GetCartRequest {
                    customer_id: s.alice.to_string(),
                    consistency: None,
                },
            ))
            .await
            .unwrap()
            .into_inner(),
    };
    let (bare, hop) = baselines(product.clone(), cart.clone(), canned).await;

    println!(
        "HTTP read API: {connections} closed-loop connections × {secs} s, {pairs} interleaved \
         rounds; open loop at {rate} req/s for {secs} s"
    );
    println!(
        "| endpoint | target | req/s (median) | ours ÷ target | p50 @ {rate}/s | p99 @ {rate}/s | errors |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, path) in [
        ("product detail", product_path.as_str()),
        ("cart", "/api/v1/cart"),
    ] {
        let short = if name == "cart" { "/cart" } else { "/product" };
        let targets = [
            (
                "bare axum handler",
                Target {
                    uri: format!("http://{bare}{short}").parse().unwrap(),
                    bearer: None,
                    body_len: 0,
                },
            ),
            (
                "bare + gRPC hop",
                Target {
                    uri: format!("http://{hop}{short}").parse().unwrap(),
                    bearer: None,
                    body_len: 0,
                },
            ),
            (
                "gateway → query service",
                Target {
                    uri: format!("http://{gateway_address}{path}").parse().unwrap(),
                    bearer: Some(alice.clone()),
                    body_len: 0,
                },
            ),
        ];
        // Each target's answer length (checked on every answer), then a warm-up.
        let mut targets = targets;
        for (_, target) in &mut targets {
            target.body_len = fetch(target.uri.to_string()).await.len();
            closed_loop(&client, target, connections, 0.5).await;
        }
        let sizes: Vec<String> = targets
            .iter()
            .map(|(_, t)| t.body_len.to_string())
            .collect();
        eprintln!(
            "{name}: answer sizes (bare, hop, ours) = {} bytes",
            sizes.join(", ")
        );
        let mut rates = vec![Vec::new(); targets.len()];
        let mut errors = vec![0u64; targets.len()];
        for _ in 0..pairs {
            for (i, (_, target)) in targets.iter().enumerate() {
                let measured = closed_loop(&client, target, connections, secs).await;
                rates[i].push(measured.per_second);
                errors[i] += measured.errors;
            }
        }
        let ours = &rates[2];
        for (i, (label, target)) in targets.iter().enumerate() {
            let ratio = if i == 2 {
                "—".to_owned()
            } else {
                let ratios = ours.iter().zip(&rates[i]).map(|(o, t)| o / t).collect();
                format!("{:.2}", median(ratios))
            };
            let latency = open_loop(&client, target, rate, secs).await;
            println!(
                "| {name} | {label} | {:.0} | {ratio} | {} | {} | {} |",
                median(rates[i].clone()),
                ms(latency.p50),
                ms(latency.p99),
                errors[i] + latency.errors,
            );
        }
    }
}
