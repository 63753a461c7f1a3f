//! Support for the tests that run every role as a real process: command services in process,
//! the relay and projection workers as child processes of the workspace's binaries, and checks
//! that read models caught up with the log and equal a fresh rebuild.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::testing::{authed, token};
use command::{
    ServiceKind,
    auth::{ROLE_ADMIN, ROLE_CUSTOMER},
    testing::{Server, eur},
};
use event_store::testing::TestDatabase;
pub use event_store::testing::wait_until;
use projections::runtime::{ProjectionMetrics, ProjectionRuntime, RetryPolicy};
use projections::{KeySpace, Projection, read_models};
use proto::{
    cart::{AddItemRequest, ChangeQuantityRequest, cart_commands_client::CartCommandsClient},
    customer::{
        DepositBalanceRequest, RegisterRequest, customer_commands_client::CustomerCommandsClient,
    },
    product::{
        AddSkuRequest, CreateProductRequest, RestockSkuRequest,
        product_commands_client::ProductCommandsClient,
    },
};
use server::Registry;
use settings::{ExposeSecret, Settings};
use tonic::{Request, transport::Channel};
use uuid::Uuid;

/// The longest any convergence may take: a SIGKILLed consumer's queue locks expire at the broker
/// first (30 s with scripts/setup's broker, 60 s by default).
pub const CONVERGE: Duration = Duration::from_secs(150);

/// Names of this test's own topics, consumer groups and Redis keys.
pub fn unique_settings(db: &TestDatabase) -> Settings {
    let tag = &Uuid::new_v4().simple().to_string()[..10];
    let mut settings = db.settings.clone();
    settings.rocketmq.topic_prefix = format!("e2e{tag}");
    settings.rocketmq.queues = 4;
    settings.relay.name = format!("e2e{tag}");
    settings.relay.producer_group = format!("e2e{tag}-relay");
    settings.relay.metrics_listen = String::new();
    settings.projections.group_prefix = format!("e2e{tag}");
    settings.projections.redis_prefix = format!("e2e{tag}");
    settings.projections.metrics_listen = String::new();
    settings.projections.retry_delay_ms = 50;
    settings
}

/// Environment that makes a child process use `settings`' database, names and prefixes.
pub fn child_env(settings: &Settings) -> Vec<(String, String)> {
    vec![
        (
            "APP_DATABASE__URL".into(),
            settings.database.url.expose_secret().to_owned(),
        ),
        ("APP_DATABASE__MAX_CONNECTIONS".into(), "8".into()),
        (
            "APP_REDIS__URL".into(),
            settings.redis.url.expose_secret().to_owned(),
        ),
        (
            "APP_ROCKETMQ__NAME_SERVER".into(),
            settings.rocketmq.name_server.clone(),
        ),
        (
            "APP_ROCKETMQ__TOPIC_PREFIX".into(),
            settings.rocketmq.topic_prefix.clone(),
        ),
        (
            "APP_ROCKETMQ__QUEUES".into(),
            settings.rocketmq.queues.to_string(),
        ),
        ("APP_RELAY__NAME".into(), settings.relay.name.clone()),
        (
            "APP_RELAY__PRODUCER_GROUP".into(),
            settings.relay.producer_group.clone(),
        ),
        ("APP_RELAY__METRICS_LISTEN".into(), String::new()),
        (
            "APP_PROJECTIONS__GROUP_PREFIX".into(),
            settings.projections.group_prefix.clone(),
        ),
        (
            "APP_PROJECTIONS__REDIS_PREFIX".into(),
            settings.projections.redis_prefix.clone(),
        ),
        ("APP_PROJECTIONS__METRICS_LISTEN".into(), String::new()),
        ("APP_PROJECTIONS__RETRY_DELAY_MS".into(), "50".into()),
        (
            "APP_PROJECTIONS__BATCH_SIZE".into(),
            settings.projections.batch_size.to_string(),
        ),
        (
            "APP_PROJECTIONS__RECONCILE_INTERVAL_MS".into(),
            settings.projections.reconcile_interval_ms.to_string(),
        ),
        (
            "APP_PROJECTIONS__RECONCILE_GRACE_MS".into(),
            settings.projections.reconcile_grace_ms.to_string(),
        ),
        ("RUST_LOG".into(), "warn".into()),
    ]
}

/// A worker binary of the workspace. Cargo names only this package's binaries in `CARGO_BIN_EXE_*`;
/// the relay's sits beside them in the same target folder (`cargo nextest run --workspace` and
/// `cargo build` build it).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let own = std::path::PathBuf::from(env!("CARGO_BIN_EXE_commerce-projections"));
    let path = own.with_file_name(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build -p relay` first",
        path.display()
    );
    path
}

/// A worker process; SIGKILLed when dropped, so a failing test leaves nothing running.
pub struct Worker(pub Child);

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

pub fn spawn_worker(binary: &std::path::Path, args: &[&str], settings: &Settings) -> Worker {
    Worker(
        Command::new(binary)
            .args(args)
            .envs(child_env(settings))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("worker starts"),
    )
}

/// SIGKILL: no shutdown hook runs, offsets and checkpoints stay where they were.
pub fn kill_hard(worker: Worker) {
    drop(worker);
}

/// The command services of one test, over its database; stopped when dropped.
pub struct Services {
    pub channels: BTreeMap<&'static str, Channel>,
    _servers: Vec<Server>,
}

impl Services {
    pub async fn start(db: &TestDatabase) -> Self {
        let mut channels = BTreeMap::new();
        let mut servers = Vec::new();
        let mut product_endpoint = String::new();
        for (name, kind) in [
            ("product", ServiceKind::Product),
            ("customer", ServiceKind::Customer),
            ("cart", ServiceKind::Cart),
        ] {
            let endpoint = product_endpoint.clone();
            let server = Server::start(kind, db, |config| {
                config.dependencies.product_endpoint = endpoint;
            })
            .await;
            if name == "product" {
                product_endpoint = server.url();
            }
            channels.insert(name, server.channel.clone());
            servers.push(server);
        }
        Self {
            channels,
            _servers: servers,
        }
    }

    pub async fn register_with_deposits(&self, customer: Uuid, deposits: usize) {
        let mut client = CustomerCommandsClient::new(self.channels["customer"].clone());
        let me = customer.to_string();
        client
            .register(authed_as(
                RegisterRequest {
                    command_id: Uuid::new_v4().to_string(),
                    customer_id: me.clone(),
                    email: format!("{me}@example.com"),
                    name: "Ada".into(),
                    currency: "EUR".into(),
                },
                &me,
                ROLE_CUSTOMER,
            ))
            .await
            .unwrap();
        for _ in 0..deposits {
            client
                .deposit_balance(authed_as(
                    DepositBalanceRequest {
                        command_id: Uuid::new_v4().to_string(),
                        customer_id: me.clone(),
                        amount: eur(100),
                    },
                    &me,
                    ROLE_CUSTOMER,
                ))
                .await
                .unwrap();
        }
    }

    /// A product with one SKU of `stock` items; returns (product, sku).
    pub async fn product_with_stock(&self, title: &str, price: i64, stock: u32) -> (Uuid, Uuid) {
        let mut client = ProductCommandsClient::new(self.channels["product"].clone());
        let (product, sku) = (Uuid::new_v4(), Uuid::new_v4());
        client
            .create_product(authed_as(
                CreateProductRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product.to_string(),
                    title: title.into(),
                    ..Default::default()
                },
                "alice",
                ROLE_ADMIN,
            ))
            .await
            .unwrap();
        client
            .add_sku(authed_as(
                AddSkuRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    price: eur(price),
                    ..Default::default()
                },
                "alice",
                ROLE_ADMIN,
            ))
            .await
            .unwrap();
        client
            .restock_sku(authed_as(
                RestockSkuRequest {
                    command_id: Uuid::new_v4().to_string(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    quantity: stock,
                },
                "alice",
                ROLE_ADMIN,
            ))
            .await
            .unwrap();
        (product, sku)
    }

    pub async fn add_to_cart(&self, customer: Uuid, product: Uuid, sku: Uuid, quantity: u32) {
        let mut client = CartCommandsClient::new(self.channels["cart"].clone());
        let me = customer.to_string();
        client
            .add_item(authed_as(
                AddItemRequest {
                    command_id: Uuid::new_v4().to_string(),
                    customer_id: me.clone(),
                    product_id: product.to_string(),
                    sku_id: sku.to_string(),
                    quantity,
                },
                &me,
                ROLE_CUSTOMER,
            ))
            .await
            .unwrap();
    }
}

impl Services {
    /// Sets the quantity of `customer`'s cart line of `sku`; the command's error, if any, is
    /// for the caller to judge (background traffic may meet a busy service).
    pub async fn set_quantity(
        &self,
        customer: Uuid,
        sku: Uuid,
        quantity: u32,
    ) -> Result<(), tonic::Status> {
        let mut client = CartCommandsClient::new(self.channels["cart"].clone());
        let me = customer.to_string();
        client
            .change_quantity(authed_as(
                ChangeQuantityRequest {
                    command_id: Uuid::new_v4().to_string(),
                    customer_id: me.clone(),
                    sku_id: sku.to_string(),
                    quantity,
                },
                &me,
                ROLE_CUSTOMER,
            ))
            .await?;
        Ok(())
    }
}

/// A runtime over `pool` (read models) fed from `db`'s log, with Redis keys under `prefix`.
pub async fn runtime_over(
    db: &TestDatabase,
    pool: sqlx::PgPool,
    settings: &Settings,
    prefix: &str,
) -> Arc<ProjectionRuntime> {
    let client = redis::Client::open(settings.redis.url.expose_secret()).unwrap();
    let redis = redis::aio::ConnectionManager::new(client).await.unwrap();
    let metrics = ProjectionMetrics::register(&mut Registry::default());
    Arc::new(ProjectionRuntime::new(
        pool,
        db.store(),
        redis,
        prefix,
        RetryPolicy::from_settings(&settings.projections),
        metrics,
    ))
}

/// Whether a worker on `settings` finished its start-up rebuilds (every PostgreSQL read model has
/// its progress row, every Redis one its epoch): from then on events reach it only through the
/// broker.
pub async fn worker_ready(db: &TestDatabase, settings: &Settings) -> bool {
    let mut postgres = 0;
    let mut redis_models = Vec::new();
    for projection in read_models::all() {
        match projection {
            Projection::Postgres(_) => postgres += 1,
            Projection::Redis(model) => redis_models.push(model.name()),
        }
    }
    let progress: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_progress")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut redis = redis::Client::open(settings.redis.url.expose_secret())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for name in redis_models {
        let epoch = KeySpace::new(&settings.projections.redis_prefix, name).key("epoch");
        let exists: bool = redis::cmd("EXISTS")
            .arg(epoch)
            .query_async(&mut redis)
            .await
            .unwrap();
        if !exists {
            return false;
        }
    }
    progress >= postgres
}

/// Whether the customers read model shows `customer`.
pub async fn customer_visible(db: &TestDatabase, customer: Uuid) -> bool {
    read_models::customers::get(&db.pool, aggregates::CustomerId(customer))
        .await
        .unwrap()
        .is_some()
}

/// Whether every read model has applied every stream of its categories up to the log's end
/// (Redis markers read from the Redis `settings` names).
pub async fn caught_up(
    runtime: &ProjectionRuntime,
    db: &TestDatabase,
    settings: &Settings,
) -> bool {
    let expected: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT category, stream_id, max(stream_version) FROM events GROUP BY category, stream_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut redis = redis::Client::open(settings.redis.url.expose_secret())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for projection in read_models::all() {
        let markers = markers_of(runtime, db, &mut redis, &projection).await;
        for (category, stream, version) in &expected {
            if projection.categories().contains(&category.as_str())
                && markers.get(stream.as_str()) != Some(version)
            {
                eprintln!(
                    "{}: {stream} at {:?}, log at {version}",
                    projection.name(),
                    markers.get(stream.as_str())
                );
                return false;
            }
        }
    }
    true
}

/// The per-stream version markers of `projection`, read where the runtime keeps them (the
/// `projection_versions` table, or the read model's `versions` hash in Redis) — cheaper to poll
/// than a whole snapshot.
pub async fn markers_of(
    runtime: &ProjectionRuntime,
    db: &TestDatabase,
    redis: &mut redis::aio::MultiplexedConnection,
    projection: &Projection,
) -> BTreeMap<String, i64> {
    match projection {
        Projection::Postgres(model) => sqlx::query_as::<_, (String, i64)>(
            "SELECT stream_id, version FROM projection_versions WHERE projection = $1",
        )
        .bind(model.name())
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect(),
        Projection::Redis(model) => redis::cmd("HGETALL")
            .arg(
                runtime
                    .live_key_space(model.name())
                    .await
                    .expect("epoch")
                    .key("versions"),
            )
            .query_async(redis)
            .await
            .unwrap(),
    }
}

pub fn normalise(snapshot: serde_json::Value, prefix: &str) -> String {
    snapshot.to_string().replace(prefix, "<prefix>")
}

/// A Redis server of one test's own, on a free loopback port, persisting nothing: a test may
/// flush it or restore old keys into it without disturbing the tests that share the machine's
/// Redis. Killed when dropped.
pub struct PrivateRedis {
    child: Child,
    pub url: String,
}

impl PrivateRedis {
    /// Starts `redis-server` (installed by scripts/setup) and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts (scripts/setup installs it)");
        let redis = Self {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        wait_until(deadline, "the private Redis answers", || async {
            match redis::Client::open(redis.url.as_str()) {
                Ok(client) => client.get_multiplexed_async_connection().await.is_ok(),
                Err(_) => false,
            }
        })
        .await;
        redis
    }

    /// `FLUSHALL`: every key gone, as after a restart without persistence.
    pub async fn flush_all(&self) {
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut self.connection().await)
            .await
            .unwrap();
    }

    /// A connection to it.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// SIGTERM, then waits for the exit: the worker's shutdown hook unlocks its queues at the broker,
/// so the next worker takes them over at once.
pub fn stop_gracefully(mut worker: Worker) {
    let pid = worker.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if worker.0.try_wait().expect("try_wait").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Dropping it SIGKILLs it.
}

/// Whether every read model of `live` equals a fresh rebuild from `db`'s log by `rebuilt`
/// (another database and Redis prefix); the first difference is printed.
pub async fn equal_to_rebuild(
    live: &ProjectionRuntime,
    live_prefix: &str,
    rebuilt: &ProjectionRuntime,
    rebuilt_prefix: &str,
) -> Result<(), String> {
    for projection in read_models::all() {
        rebuilt.rebuild(&projection).await.unwrap();
        let fresh = normalise(rebuilt.snapshot(&projection).await.unwrap(), rebuilt_prefix);
        let converged = normalise(live.snapshot(&projection).await.unwrap(), live_prefix);
        if fresh != converged {
            return Err(format!(
                "read model {} differs from a fresh rebuild:\n live:    {converged}\n rebuilt: {fresh}",
                projection.name()
            ));
        }
    }
    Ok(())
}

/// `message` with a token for `sub` in `role`.
fn authed_as<T>(message: T, sub: &str, role: &str) -> Request<T> {
    authed(message, &token(sub, &[role]))
}
