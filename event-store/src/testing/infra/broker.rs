//! A RocketMQ name server and broker of a test's own (`rocketmq-namesrv-rust`,
//! `rocketmq-broker-rust`, installed by scripts/setup), on free loopback ports with their
//! configuration, logs and store in a temp dir; each can be SIGKILLed and started again on the
//! same ports and store.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::time::Instant;

use super::{START_TIMEOUT, binary, clean_up, free_port, fresh_dir, listening, log_file, tail};

const NAMESRV_BIN: &str = "rocketmq-namesrv-rust";
const BROKER_BIN: &str = "rocketmq-broker-rust";
const INSTALL: &str = "this test runs a RocketMQ name server and broker of its own; install them \
                       with scripts/setup (cargo install --locked --version 1.0.0 \
                       rocketmq-namesrv rocketmq-broker)";
/// Commit log file size: 16 MiB instead of the default 1 GiB keeps the store small.
const COMMIT_LOG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A RocketMQ name server and broker; both killed and their dir removed when dropped (the logs'
/// tails printed first when the test is failing).
pub struct PrivateBroker {
    dir: PathBuf,
    namesrv_port: u16,
    health_port: u16,
    namesrv: Option<Child>,
    broker: Option<Child>,
    namesrv_starts: u32,
    broker_starts: u32,
}

impl PrivateBroker {
    /// Writes the configuration and starts the name server, then the broker; returns once the
    /// broker's `/readyz` says ready.
    pub async fn start() -> Self {
        // Resolve both before anything starts, so a missing binary fails with a clear message.
        binary(NAMESRV_BIN, INSTALL);
        binary(BROKER_BIN, INSTALL);
        let dir = fresh_dir("private-broker");
        std::fs::create_dir_all(dir.join("namesrv")).expect("create namesrv dir");
        std::fs::create_dir_all(dir.join("store")).expect("create store dir");
        let mut taken = Vec::new();
        let namesrv_port = free_port(&mut taken);
        // The broker also listens on `port - 2` (its fast remoting listener).
        let broker_port = loop {
            let port = free_port(&mut taken);
            if port > 1024
                && !taken.contains(&(port - 2))
                && std::net::TcpListener::bind(("127.0.0.1", port - 2)).is_ok()
            {
                taken.push(port - 2);
                break port;
            }
        };
        let ha_port = free_port(&mut taken);
        let health_port = free_port(&mut taken);

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
            namesrv_starts: 0,
            broker_starts: 0,
        };
        this.start_name_server().await;
        this.start_broker().await;
        this
    }

    /// `127.0.0.1:port` of the name server, for `rocketmq.name_server`.
    pub fn name_server(&self) -> String {
        format!("127.0.0.1:{}", self.namesrv_port)
    }

    /// Starts the name server (again) on the same port; returns once it listens.
    pub async fn start_name_server(&mut self) {
        assert!(
            self.namesrv.is_none(),
            "the private name server is running already"
        );
        self.namesrv_starts += 1;
        let log = self.namesrv_log();
        let child = Command::new(binary(NAMESRV_BIN, INSTALL))
            .arg("-c")
            .arg(self.dir.join("namesrv.toml"))
            .env("ROCKETMQ_HOME", &self.dir)
            .env_remove("ROCKETMQ_HEALTH_BIND_ADDR")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file(&self.dir, &log))
            .stderr(Stdio::from(log_file(&self.dir, &format!("{log}.err"))))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {NAMESRV_BIN}: {error}"));
        self.namesrv = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !listening(self.namesrv_port) {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the private name server did not listen on {} within {START_TIMEOUT:?}",
                self.name_server()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the name server and reaps it (its routes are in memory: a restarted one knows
    /// the broker again once the broker re-registers).
    pub fn kill_name_server(&mut self) {
        let mut namesrv = self
            .namesrv
            .take()
            .expect("the private name server is running");
        namesrv.kill().expect("SIGKILL the private name server");
        namesrv.wait().expect("reap the private name server");
    }

    /// Starts the broker (again) on the same ports and store; returns once it is ready.
    pub async fn start_broker(&mut self) {
        assert!(
            self.broker.is_none(),
            "the private broker is running already"
        );
        self.broker_starts += 1;
        let log = self.broker_log();
        let child = Command::new(binary(BROKER_BIN, INSTALL))
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
            .stdout(log_file(&self.dir, &log))
            .stderr(Stdio::from(log_file(&self.dir, &format!("{log}.err"))))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {BROKER_BIN}: {error}"));
        self.broker = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.broker_ready() {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the private broker (start {}) was not ready within {START_TIMEOUT:?}",
                self.broker_starts
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the broker and reaps it; its store stays.
    pub fn kill_broker(&mut self) {
        let mut broker = self.broker.take().expect("the private broker is running");
        broker.kill().expect("SIGKILL the private broker");
        broker.wait().expect("reap the private broker");
    }

    fn namesrv_log(&self) -> String {
        format!("namesrv-{}.log", self.namesrv_starts)
    }

    fn broker_log(&self) -> String {
        format!("broker-{}.log", self.broker_starts)
    }

    /// Whether `GET /readyz` on the broker's health address answers ready.
    fn broker_ready(&self) -> bool {
        let probe = || -> std::io::Result<bool> {
            let mut stream = TcpStream::connect_timeout(
                &([127, 0, 0, 1], self.health_port).into(),
                Duration::from_secs(1),
            )?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response.contains("\"status\":\"ready\""))
        };
        probe().unwrap_or(false)
    }

    /// Panics (with the log's tail) if the name server or the broker has exited.
    fn assert_running(&mut self) {
        let logs = [self.namesrv_log(), self.broker_log()];
        for (child, log) in [self.namesrv.as_mut(), self.broker.as_mut()]
            .into_iter()
            .zip(logs)
        {
            if let Some(child) = child
                && let Some(status) = child.try_wait().expect("try_wait")
            {
                panic!(
                    "the private {log} process exited with {status}; its log ends:\n{}{}",
                    tail(&self.dir.join(&log), 30),
                    tail(&self.dir.join(format!("{log}.err")), 10)
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
        let logs = (1..=self.broker_starts)
            .map(|start| format!("broker-{start}.log"))
            .chain((1..=self.namesrv_starts).map(|start| format!("namesrv-{start}.log")));
        clean_up(&self.dir, logs);
    }
}
