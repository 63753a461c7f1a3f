//! The relay against a RocketMQ name server and broker of this test's own: the broker is killed
//! (SIGKILL) while events keep coming, the relay retries with backoff without moving its
//! checkpoint, and once the broker is back every event arrives, in stream order, none skipped.
//!
//! The shared broker (127.0.0.1:9876/10911) serves other tests and is never touched here: this
//! test starts `rocketmq-namesrv-rust` and `rocketmq-broker-rust` (installed by scripts/setup)
//! on free loopback ports, with a store in a temp dir that is removed at the end.
#![recursion_limit = "512"]

mod support;

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use relay::Relay;
use rocketmq::ReceivedMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use uuid::Uuid;

use support::{
    Collector, World, append_interleaved, assert_complete_in_stream_order, free_port, start_relay,
    stop_relay, streams, versions_by_stream, wait_until,
};

const NAMESRV_BIN: &str = "rocketmq-namesrv-rust";
const BROKER_BIN: &str = "rocketmq-broker-rust";
/// How long a started name server or broker may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Commit log file size: 16 MiB instead of the default 1 GiB keeps the store small.
const COMMIT_LOG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// `name` on `PATH` (or in `~/.cargo/bin`, where scripts/setup installs it); panics with what
/// to do when missing.
fn binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin"));
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: this test runs a RocketMQ name server and broker of its \
                 own; install them with scripts/setup (cargo install --locked --version 1.0.0 \
                 rocketmq-namesrv rocketmq-broker)"
            )
        })
}

/// A free loopback port `p` whose `p - 2` is free too (the broker's fast remoting listener)
/// and that is not in `taken`.
fn free_broker_port(taken: &HashSet<u16>) -> u16 {
    loop {
        let port = free_port();
        if port > 1024
            && !taken.contains(&port)
            && !taken.contains(&(port - 2))
            && TcpListener::bind(("127.0.0.1", port - 2)).is_ok()
        {
            return port;
        }
    }
}

/// A free loopback port not in `taken`.
fn free_port_besides(taken: &HashSet<u16>) -> u16 {
    loop {
        let port = free_port();
        if !taken.contains(&port) {
            return port;
        }
    }
}

/// The last `lines` lines of a log file, for failure messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A RocketMQ name server and broker of this test's own, on free loopback ports, with their
/// configuration, logs and store in a temp dir. Dropping it kills both processes and removes
/// the dir (printing the logs' tails first when the test is failing).
struct PrivateBroker {
    dir: PathBuf,
    namesrv_port: u16,
    health_port: u16,
    namesrv: Option<Child>,
    broker: Option<Child>,
    broker_starts: u32,
}

impl PrivateBroker {
    /// Writes the configuration and starts the name server, then the broker; returns once the
    /// broker's `/readyz` says ready.
    async fn start() -> Self {
        // Resolve both before anything starts, so a missing binary fails with a clear message.
        binary(NAMESRV_BIN);
        binary(BROKER_BIN);
        let dir = std::env::temp_dir().join(format!("relay-outage-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("namesrv")).expect("create namesrv dir");
        std::fs::create_dir_all(dir.join("store")).expect("create store dir");
        let mut taken = HashSet::new();
        let namesrv_port = free_port_besides(&taken);
        taken.insert(namesrv_port);
        let broker_port = free_broker_port(&taken);
        taken.extend([broker_port, broker_port - 2]);
        let ha_port = free_port_besides(&taken);
        taken.insert(ha_port);
        let health_port = free_port_besides(&taken);

        let d = dir.display();
        std::fs::write(
            dir.join("namesrv.toml"),
            format!(
                "rocketmqHome = \"{d}\"\n\
                 kvConfigPath = \"{d}/namesrv/kvConfig.json\"\n\
                 configStorePath = \"{d}/namesrv/namesrv.properties\"\n\
                 listenPort = {namesrv_port}\n\
                 bindAddress = \"127.0.0.1\"\n"
            ),
        )
        .expect("write namesrv.toml");
        std::fs::write(
            dir.join("broker.toml"),
            format!(
                "[broker]\n\
                 namesrvAddr = \"127.0.0.1:{namesrv_port}\"\n\
                 brokerIp1 = \"127.0.0.1\"\n\
                 listenPort = {broker_port}\n\
                 storePathRootDir = \"{d}/store\"\n\
                 autoCreateTopicEnable = true\n\
                 \n\
                 [broker.brokerServerConfig]\n\
                 bindAddress = \"127.0.0.1\"\n\
                 \n\
                 [broker.brokerIdentity]\n\
                 brokerName = \"broker-a\"\n\
                 brokerClusterName = \"DefaultCluster\"\n\
                 brokerId = 0\n\
                 \n\
                 [store]\n\
                 storeType = \"LocalFile\"\n\
                 brokerRole = \"ASYNC_MASTER\"\n\
                 flushDiskType = \"ASYNC_FLUSH\"\n\
                 storePathRootDir = \"{d}/store\"\n\
                 haListenAddress = \"127.0.0.1\"\n\
                 haListenPort = {ha_port}\n\
                 mappedFileSizeCommitLog = {COMMIT_LOG_FILE_BYTES}\n\
                 diskMaxUsedSpaceRatio = 95\n\
                 diskSpaceCleanForciblyRatio = 97\n\
                 diskSpaceWarningLevelRatio = 99\n"
            ),
        )
        .expect("write broker.toml");

        let mut this = Self {
            dir,
            namesrv_port,
            health_port,
            namesrv: None,
            broker: None,
            broker_starts: 0,
        };
        this.start_namesrv().await;
        this.start_broker().await;
        this
    }

    /// `127.0.0.1:port` of the name server, for `rocketmq.name_server`.
    fn name_server(&self) -> String {
        format!("127.0.0.1:{}", self.namesrv_port)
    }

    fn log(&self, name: &str) -> File {
        File::create(self.dir.join(name)).expect("create log file")
    }

    async fn start_namesrv(&mut self) {
        let child = Command::new(binary(NAMESRV_BIN))
            .arg("-c")
            .arg(self.dir.join("namesrv.toml"))
            .env("ROCKETMQ_HOME", &self.dir)
            .env_remove("ROCKETMQ_HEALTH_BIND_ADDR")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(self.log("namesrv.log"))
            .stderr(self.log("namesrv.err.log"))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {NAMESRV_BIN}: {error}"));
        self.namesrv = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.assert_running();
            if tokio::net::TcpStream::connect(("127.0.0.1", self.namesrv_port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the private name server did not listen on {} within {START_TIMEOUT:?}",
                self.name_server()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the broker (again) on the same ports and store; returns once it is ready.
    async fn start_broker(&mut self) {
        assert!(
            self.broker.is_none(),
            "the private broker is running already"
        );
        self.broker_starts += 1;
        let log = format!("broker-{}.log", self.broker_starts);
        let child = Command::new(binary(BROKER_BIN))
            .arg("-c")
            .arg(self.dir.join("broker.toml"))
            .arg("-n")
            .arg(self.name_server())
            .env("ROCKETMQ_HOME", &self.dir)
            .env(
                "ROCKETMQ_HEALTH_BIND_ADDR",
                format!("127.0.0.1:{}", self.health_port),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(self.log(&log))
            .stderr(Stdio::from(self.log(&log).try_clone().expect("log handle")))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {BROKER_BIN}: {error}"));
        self.broker = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.assert_running();
            if self.broker_ready().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the private broker (start {}) was not ready within {START_TIMEOUT:?}",
                self.broker_starts
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether `GET /readyz` on the broker's health address answers ready.
    async fn broker_ready(&self) -> bool {
        let probe = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.health_port))
                .await
                .ok()?;
            stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await.ok()?;
            Some(response.contains("\"status\":\"ready\""))
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), probe).await,
            Ok(Some(true))
        )
    }

    /// SIGKILLs the broker and reaps it; its store stays.
    fn kill_broker(&mut self) {
        let mut broker = self.broker.take().expect("the private broker is running");
        broker.kill().expect("SIGKILL the private broker");
        broker.wait().expect("reap the private broker");
    }

    /// Panics (with the log's tail) if the name server or the broker has exited.
    fn assert_running(&mut self) {
        let dir = self.dir.clone();
        let broker_log = format!("broker-{}.log", self.broker_starts);
        for (child, log) in [
            (self.namesrv.as_mut(), "namesrv.log"),
            (self.broker.as_mut(), broker_log.as_str()),
        ] {
            if let Some(child) = child
                && let Some(status) = child.try_wait().expect("try_wait")
            {
                panic!(
                    "the private {log} process exited with {status}; its log ends:\n{}",
                    tail(&dir.join(log), 30)
                );
            }
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        for mut child in [self.broker.take(), self.namesrv.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for log in (1..=self.broker_starts)
                .map(|start| format!("broker-{start}.log"))
                .chain(["namesrv.log".to_owned()])
            {
                eprintln!(
                    "--- private {log}, last lines:\n{}",
                    tail(&self.dir.join(&log), 20)
                );
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => eprintln!("cannot remove {}: {error}", self.dir.display()),
        }
    }
}

/// The distinct (stream, version) pairs among `received`.
fn distinct_versions(received: &[ReceivedMessage]) -> usize {
    versions_by_stream(received)
        .into_values()
        .map(|versions| versions.into_iter().collect::<BTreeSet<_>>().len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_delays_publishing_but_skips_nothing() {
    support::init_logging();
    let test_started = Instant::now();
    // Declared first, dropped last: the relay and the consumer stop before their broker does.
    let mut broker = PrivateBroker::start().await;
    let mut world = World::create().await;
    world.settings.rocketmq.name_server = broker.name_server();
    world.settings.relay.batch_size = 16;
    world.settings.relay.retry_initial_ms = 50;
    world.settings.relay.retry_max_ms = 500;
    let streams = streams(5);
    let collector = Collector::start(&world.settings, &world.prefix).await;

    let relay = Relay::build(world.settings.clone())
        .await
        .expect("relay builds");
    let (metrics, stop, running) = start_relay(relay);

    // 1. A healthy broker: 5 streams × 20 = 100 events arrive and are checkpointed.
    append_interleaved(&world.store, &streams, 0..20, 2).await;
    let first_last = world.last_position().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    wait_until(deadline, "the first 100 events arrived", || async {
        distinct_versions(&collector.received()) == 100
    })
    .await;
    wait_until(
        deadline,
        "the checkpoint reaches the first batch's last event",
        || async { world.checkpoint().await == Some(first_last) },
    )
    .await;
    let failures_before = metrics.send_failures.get();

    // 2. The broker dies; 100 more events are appended; the relay retries and its checkpoint
    //    stays on the last acknowledged event.
    broker.kill_broker();
    let killed_at = Instant::now();
    append_interleaved(&world.store, &streams, 20..40, 2).await;
    let last = world.last_position().await;
    assert!(last.position > first_last.position);
    wait_until(
        Instant::now() + Duration::from_secs(30),
        "the relay retried publishing at least 5 times",
        || async { metrics.send_failures.get() >= failures_before + 5 },
    )
    .await;
    assert_eq!(
        world.checkpoint().await,
        Some(first_last),
        "the checkpoint moved while the broker was down"
    );
    assert_eq!(
        metrics.checkpoint_position.get(),
        i64::try_from(first_last.position).unwrap()
    );
    assert_eq!(
        metrics.active.get(),
        1,
        "the relay stays active while retrying"
    );
    assert_eq!(
        distinct_versions(&collector.received()),
        100,
        "nothing can arrive from a dead broker"
    );
    let outage = killed_at.elapsed();
    let failures_during_outage = metrics.send_failures.get() - failures_before;

    // 3. The broker comes back on the same ports and store: every event of both batches
    //    arrives, in stream order, and the checkpoint reaches the last event.
    let batches_before_restart = metrics.batches.get();
    broker.start_broker().await;
    let restarted_at = Instant::now();
    // The client stops connecting to an address for 30 s after 5 failed connects in a row (the
    // transport's circuit breaker, not configurable), so recovery takes up to ~30 s.
    let deadline = restarted_at + Duration::from_secs(60);
    wait_until(deadline, "the relay publishes again", || async {
        metrics.batches.get() > batches_before_restart
    })
    .await;
    let first_publish_after = restarted_at.elapsed();
    wait_until(
        deadline,
        "the checkpoint reaches the last event",
        || async { world.checkpoint().await == Some(last) },
    )
    .await;
    let checkpoint_after = restarted_at.elapsed();
    wait_until(deadline, "all 200 events arrived", || async {
        distinct_versions(&collector.received()) == 200
    })
    .await;
    let all_received_after = restarted_at.elapsed();

    let received = collector.received();
    let duplicates = assert_complete_in_stream_order(&received, &streams, 40);
    assert_eq!(received.len(), 200 + duplicates);
    assert_eq!(world.checkpoint().await, Some(last));
    assert_eq!(
        metrics.checkpoint_position.get(),
        i64::try_from(last.position).unwrap()
    );
    let failures_total = metrics.send_failures.get() - failures_before;
    assert!(failures_total >= 5);
    eprintln!(
        "broker down {outage:?} before the restart began ({failures_during_outage} failed \
         publishes by then, {failures_total} in all); after the broker was ready again: first \
         batch acknowledged in {first_publish_after:?}, checkpoint on the last event in \
         {checkpoint_after:?}, all 200 events received in {all_received_after:?}; {duplicates} \
         duplicate deliveries; test took {:?}",
        test_started.elapsed()
    );

    stop_relay(stop, running, Instant::now() + Duration::from_secs(30)).await;
    collector.stop().await;
    drop(broker);
}
