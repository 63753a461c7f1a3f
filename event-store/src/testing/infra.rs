//! Infrastructure of a test's own: a PostgreSQL server, a Redis server and a RocketMQ name server
//! and broker, each a child process on free loopback ports with its data and logs in a temp dir.
//!
//! The shared servers scripts/setup starts serve every test at once; a test that kills one of
//! them (the relay's broker outage, the fault suite) would break the others. These are killed and
//! started again on the same port and data dir instead:
//! - [`PrivatePostgres`]: `initdb` + `pg_ctl` (from `pg_config --bindir`), trust auth on
//!   loopback, fsync on; [`stop_immediately`](PrivatePostgres::stop_immediately) is a crash
//!   (`pg_ctl stop -m immediate`), committed transactions survive it;
//! - [`PrivateRedis`]: `redis-server` without persistence, so a restart comes back empty;
//! - [`PrivateBroker`]: `rocketmq-namesrv-rust` and `rocketmq-broker-rust` (scripts/setup
//!   installs them), each SIGKILLed and started again separately.
//!
//! [`PrivateInfra`] bundles the three, gives the [`Settings`] pointing at them (for child
//! processes) and makes a test database with the services' login roles on its PostgreSQL
//! ([`PrivateInfra::database`]). Dropping any
//! of them stops its processes and removes its dir, printing the logs' tails first when the test
//! is failing. Starting them takes a few seconds: keep them to the tests that need them.

mod broker;
mod postgres;
mod redis;

use std::{
    collections::HashMap,
    fs::File,
    io::ErrorKind,
    net::{TcpListener, TcpStream},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::Duration,
};

use settings::Settings;

use super::TestDatabase;

pub use broker::PrivateBroker;
pub use postgres::PrivatePostgres;
pub use redis::PrivateRedis;

/// How long a started server may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL server, a Redis server and a RocketMQ name server and broker of this test's own.
pub struct PrivateInfra {
    /// The PostgreSQL server.
    pub postgres: PrivatePostgres,
    /// The Redis server.
    pub redis: PrivateRedis,
    /// The RocketMQ name server and broker.
    pub broker: PrivateBroker,
}

impl PrivateInfra {
    /// Starts all three (PostgreSQL and Redis first, then the name server and the broker).
    pub async fn start() -> Self {
        let postgres = PrivatePostgres::start().await;
        let redis = PrivateRedis::start().await;
        let broker = PrivateBroker::start().await;
        Self {
            postgres,
            redis,
            broker,
        }
    }

    /// The settings every process loads (stage file, `APP_…` variables), with the database,
    /// Redis and name server addresses replaced by these servers'. The database URL names the
    /// server's `postgres` database: [`TestDatabase::create_on`](super::TestDatabase::create_on)
    /// makes one of the test's own on it.
    pub fn settings(&self) -> Settings {
        let mut env: HashMap<String, String> = std::env::vars().collect();
        env.insert("APP_DATABASE__URL".to_owned(), self.postgres.url());
        env.insert("APP_REDIS__URL".to_owned(), self.redis.url());
        env.insert(
            "APP_ROCKETMQ__NAME_SERVER".to_owned(),
            self.broker.name_server(),
        );
        Settings::from_env(env).expect("settings load")
    }
}

impl PrivateInfra {
    /// A migrated test database of its own on the private PostgreSQL (pool of
    /// `max_connections`), with every service's login role (`commerce_<role>_login`,
    /// `docs/database-roles.md`) made on the cluster, so processes can connect as their logins.
    /// Their passwords are random: the private cluster trusts loopback connections.
    pub async fn database(&self, max_connections: u32) -> TestDatabase {
        let db = TestDatabase::create_on(self.settings(), max_connections).await;
        db.ensure_service_logins().await;
        db
    }
}

/// `name` on `PATH` (or in `~/.cargo/bin`, where scripts/setup installs cargo-built tools);
/// panics saying `install` when missing.
fn binary(name: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin"));
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH: {install}"))
}

/// A loopback port nothing listens on right now, not in `taken` (which it joins).
fn free_port(taken: &mut Vec<u16>) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        if !taken.contains(&port) {
            taken.push(port);
            return port;
        }
    }
}

/// Whether something accepts connections on loopback `port`.
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// A fresh dir `<temp>/<prefix>-<uuid>` for a server's configuration, data and logs.
fn fresh_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// Whether this process runs as root (PostgreSQL refuses to), judged by who owns a dir it made.
fn running_as_root(dir: &Path) -> bool {
    std::fs::metadata(dir).expect("stat a temp dir").uid() == 0
}

/// A new (truncated) log file in `dir`.
fn log_file(dir: &Path, name: &str) -> File {
    File::create(dir.join(name)).expect("create a log file")
}

/// The last `lines` lines of a log file, for failure messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Prints the tails of `logs` in `dir` when the test is failing, then removes `dir`.
fn clean_up(dir: &Path, logs: impl IntoIterator<Item = String>) {
    if std::thread::panicking() {
        for log in logs {
            eprintln!(
                "--- {}, last lines:\n{}",
                dir.join(&log).display(),
                tail(&dir.join(&log), 20)
            );
        }
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => eprintln!("cannot remove {}: {error}", dir.display()),
    }
}
