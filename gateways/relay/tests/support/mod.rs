//! Shared set-up of the relay tests: a fresh database, a topic prefix of the test's own, a
//! consumer collecting everything the relay publishes, and relay processes. Waiting on a
//! condition with a deadline is `event_store::testing::wait_until`, re-exported here.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_store::testing::TestDatabase;
pub use event_store::testing::wait_until;
use event_store::{
    AllPosition, EventMetadata, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId,
};
use relay::KNOWN_CATEGORIES;
use rocketmq::{
    BrokerClient, BrokerClientConfig, ConsumeOutcome, EventTopics, OrderlyConsumer,
    OrderlyConsumerConfig, ReceivedMessage,
};
use settings::{ExposeSecret, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use uuid::Uuid;

/// Queues per topic in the tests.
pub const QUEUES: u32 = 4;

/// Client logs for diagnosis with `RUST_LOG`; quiet by default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A test's world: its database, topic prefix and settings pointing at both.
pub struct World {
    pub db: TestDatabase,
    pub store: EventStore,
    pub prefix: String,
    pub settings: Settings,
}

impl World {
    pub async fn create() -> Self {
        let db = TestDatabase::create(8).await;
        let store = db.store();
        let prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..8]);
        let mut settings = db.settings.clone();
        settings.rocketmq.topic_prefix = prefix.clone();
        settings.rocketmq.queues = QUEUES;
        settings.relay.name = "main".to_owned();
        settings.relay.producer_group = format!("{prefix}-relay");
        settings.relay.metrics_listen = "127.0.0.1:0".to_owned();
        settings.relay.standby_poll_ms = 200;
        Self {
            db,
            store,
            prefix,
            settings,
        }
    }

    /// The stored checkpoint of relay `main`, if any.
    pub async fn checkpoint(&self) -> Option<AllPosition> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::int8, position FROM relay_checkpoints WHERE name = 'main'",
        )
        .fetch_optional(&self.db.pool)
        .await
        .expect("read checkpoint");
        row.map(|(tx_id, position)| AllPosition {
            tx_id: tx_id as u64,
            position: position as u64,
        })
    }

    /// The last event of `$all`.
    pub async fn last_position(&self) -> AllPosition {
        self.db
            .all_events()
            .await
            .last()
            .map_or(AllPosition::START, RecordedEvent::all_position)
    }

    /// Spawns the `commerce-relay` binary on this world, with its metrics on `metrics_port`.
    /// Waits until the relay's checkpoint is the log's last event: everything was acknowledged.
    pub async fn until_checkpoint_at_log_end(&self, deadline: Instant) {
        let last = self.last_position().await;
        wait_until(
            deadline,
            "the checkpoint reaches the last event",
            || async { self.checkpoint().await == Some(last) },
        )
        .await;
    }

    pub fn spawn_relay(&self, metrics_port: u16) -> Child {
        self.relay_command(metrics_port)
            .spawn()
            .expect("spawn commerce-relay")
    }

    /// Like [`World::spawn_relay`], with the relay's log (stdout and stderr) written to `log`.
    pub fn spawn_relay_logging_to(&self, metrics_port: u16, log: &std::path::Path) -> Child {
        let file = std::fs::File::create(log).expect("create relay log");
        let stderr = file.try_clone().expect("clone log handle");
        self.relay_command(metrics_port)
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .expect("spawn commerce-relay")
    }

    /// `commerce-relay <args>` on this world's database, run to completion.
    pub fn run_relay_command(&self, args: &[&str]) -> std::process::Output {
        self.relay_command(0)
            .args(args)
            .output()
            .expect("run commerce-relay")
    }

    /// The `commerce-relay` binary with this world's settings in its environment.
    fn relay_command(&self, metrics_port: u16) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_commerce-relay"));
        command
            // As the relay's own login, like every deployment (docs/database-roles.md).
            .env(
                "APP_DATABASE__URL",
                event_store::roles::login_url(self.settings.database.url.expose_secret(), "relay"),
            )
            .env("APP_ROCKETMQ__TOPIC_PREFIX", &self.prefix)
            .env("APP_ROCKETMQ__QUEUES", QUEUES.to_string())
            .env("APP_RELAY__NAME", "main")
            .env(
                "APP_RELAY__PRODUCER_GROUP",
                format!("{}-relay", self.prefix),
            )
            .env("APP_RELAY__STANDBY_POLL_MS", "200")
            .env(
                "APP_RELAY__METRICS_LISTEN",
                format!("127.0.0.1:{metrics_port}"),
            )
            .env("RUST_LOG", "info,rocketmq_client_rust=warn,rocketmq=warn")
            .stdin(Stdio::null());
        command
    }
}

/// A free loopback port (bound, then released for the process under test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The value of an unlabelled metric on `127.0.0.1:port`, or `None` while unreachable.
pub async fn scrape(port: u16, metric: &str) -> Option<f64> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    response.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == metric).then(|| value.trim().parse().ok())?
    })
}

/// Appends `per_stream` events to each of `streams`, interleaved (round-robin, `chunk` events
/// per append), with metadata on every event.
pub async fn append_interleaved(
    store: &EventStore,
    streams: &[StreamId],
    versions: std::ops::Range<u64>,
    chunk: u64,
) {
    let mut version = versions.start;
    while version < versions.end {
        let upto = (version + chunk).min(versions.end);
        for stream in streams {
            let events: Vec<NewEvent> = (version..upto)
                .map(|v| {
                    NewEvent::new("ItemAdded", serde_json::json!({ "v": v })).with_metadata(
                        EventMetadata {
                            correlation_id: Some(Uuid::new_v4()),
                            causation_id: Some(Uuid::new_v4()),
                            traceparent: Some(format!(
                                "00-{}-0000000000000001-01",
                                Uuid::new_v4().simple()
                            )),
                            ..EventMetadata::default()
                        },
                    )
                })
                .collect();
            let expected = if version == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(version - 1)
            };
            store
                .append(stream, expected, &events)
                .await
                .expect("append");
        }
        version = upto;
    }
}

/// Streams spread over three categories.
pub fn streams(count: usize) -> Vec<StreamId> {
    let categories = ["cart", "order", "product"];
    (0..count)
        .map(|i| StreamId::new(categories[i % 3], format!("{i}-{}", Uuid::new_v4())).unwrap())
        .collect()
}

/// A consumer of every category topic of a prefix, keeping everything it receives in order.
pub struct Collector {
    client: Option<BrokerClient>,
    consumer: Option<OrderlyConsumer>,
    received: Arc<Mutex<Vec<ReceivedMessage>>>,
}

impl Collector {
    /// Creates the category topics (as the relay would) and starts consuming from their first
    /// offsets.
    pub async fn start(settings: &Settings, prefix: &str) -> Self {
        Self::start_group(
            settings,
            prefix,
            &format!("{prefix}-collector"),
            "*",
            Duration::ZERO,
        )
        .await
    }

    /// Like [`Collector::start`], as consumer group `group` filtering on `tags` (`*`: all),
    /// taking `per_message` to handle each message (a slow consumer).
    pub async fn start_group(
        settings: &Settings,
        prefix: &str,
        group: &str,
        tags: &str,
        per_message: Duration,
    ) -> Self {
        let client = BrokerClient::new(BrokerClientConfig::new(
            settings.rocketmq.name_server.clone(),
        ))
        .expect("client runtime");
        let topics = EventTopics::new(prefix);
        for category in KNOWN_CATEGORIES {
            client
                .create_topic(&topics.topic(category), QUEUES)
                .await
                .expect("topic created");
        }
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        let consumer = client
            .start_orderly_consumer(
                OrderlyConsumerConfig::for_topics(
                    group,
                    KNOWN_CATEGORIES.map(|category| topics.topic(category)),
                )
                .with_tags(tags),
                move |message: &ReceivedMessage| {
                    std::thread::sleep(per_message);
                    sink.lock().unwrap().push(message.clone());
                    ConsumeOutcome::Done
                },
            )
            .await
            .expect("consumer started");
        Self {
            client: Some(client),
            consumer: Some(consumer),
            received,
        }
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.received.lock().unwrap().clone()
    }

    /// How many distinct event ids arrived.
    pub fn distinct(&self) -> usize {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .map(|message| message.keys.first().cloned().unwrap_or_default())
            .collect::<HashSet<_>>()
            .len()
    }

    pub async fn stop(mut self) {
        if let Some(consumer) = self.consumer.take() {
            consumer.shutdown().await;
        }
        if let Some(client) = self.client.take() {
            client.shutdown().await.expect("clean client shutdown");
        }
    }
}

/// Per stream, the versions in arrival order.
pub fn versions_by_stream(received: &[ReceivedMessage]) -> BTreeMap<String, Vec<u64>> {
    let mut by_stream: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for message in received {
        let stream = message.properties["stream_id"].clone();
        let version = message.properties["stream_version"].parse().unwrap();
        by_stream.entry(stream).or_default().push(version);
    }
    by_stream
}

/// Asserts that every stream arrived complete (`0..per_stream`) and that dropping repeats of
/// versions already seen leaves exactly `0, 1, 2, …`: a duplicate is always a re-send of a
/// version already seen, never a reorder. Returns the number of duplicates.
pub fn assert_complete_in_stream_order(
    received: &[ReceivedMessage],
    streams: &[StreamId],
    per_stream: u64,
) -> usize {
    let by_stream = versions_by_stream(received);
    let mut duplicates = 0;
    for stream in streams {
        let arrived = by_stream
            .get(stream.as_str())
            .unwrap_or_else(|| panic!("nothing of {stream} arrived"));
        let mut next = 0u64;
        for &version in arrived {
            if version < next {
                duplicates += 1;
            } else {
                assert_eq!(
                    version, next,
                    "{stream}: version {version} arrived before {next}"
                );
                next += 1;
            }
        }
        assert_eq!(
            next, per_stream,
            "{stream}: only versions below {next} arrived"
        );
    }
    duplicates
}

/// Kills the child with SIGKILL and reaps it.
pub fn sigkill(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

/// Sends SIGTERM and waits (with a deadline) for a clean exit.
pub async fn sigterm_and_wait(child: &mut Child, deadline: Instant) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(status.success(), "relay exited with {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "relay did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills a child left running when a test fails.
pub struct Reaper(pub Vec<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Two relay processes over `world`, once one of them is active and the other stands by: the
/// processes (killed when dropped), their metrics ports, and which index leads.
pub async fn leader_and_standby(world: &World, deadline: Instant) -> (Reaper, [u16; 2], usize) {
    let ports = [free_port(), free_port()];
    let relays = Reaper(vec![
        world.spawn_relay(ports[0]),
        world.spawn_relay(ports[1]),
    ]);
    wait_until(
        deadline,
        "one relay is active and the other standby",
        || async {
            let a = scrape(ports[0], "relay_active").await;
            let b = scrape(ports[1], "relay_active").await;
            matches!((a, b), (Some(a), Some(b)) if a + b == 1.0)
        },
    )
    .await;
    let leader = usize::from(scrape(ports[1], "relay_active").await == Some(1.0));
    (relays, ports, leader)
}

/// Starts `relay` in-process (a task of the test's runtime); returns its metrics, a stop switch
/// and its task, for [`stop_relay`].
pub fn start_relay(
    relay: relay::Relay,
) -> (
    relay::RelayMetrics,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), relay::RelayError>>,
) {
    let metrics = relay.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    (metrics, stop, running)
}

/// Stops a relay [`start_relay`] started and waits, until `deadline`, for a clean stop.
pub async fn stop_relay(
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<Result<(), relay::RelayError>>,
    deadline: Instant,
) {
    stop.send(()).expect("relay still running");
    tokio::time::timeout_at(deadline, running)
        .await
        .expect("relay stops in time")
        .expect("relay task")
        .expect("relay stops cleanly");
}
