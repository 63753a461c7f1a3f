//! A Redis server of a test's own: `redis-server` on a free loopback port with persistence off,
//! so that a restart comes back with nothing — what a Redis without persistence (or a failover
//! to an empty replica) does to the read models kept in it.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::time::Instant;

use super::{START_TIMEOUT, binary, clean_up, free_port, fresh_dir, log_file, tail};

/// A Redis server on `127.0.0.1:<port>`; killed and its dir removed when dropped.
pub struct PrivateRedis {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    starts: u32,
}

impl PrivateRedis {
    /// Starts `redis-server` (no RDB snapshots, no AOF); returns once it answers `PING`.
    pub async fn start() -> Self {
        let mut this = Self {
            dir: fresh_dir("private-redis"),
            port: free_port(&mut Vec::new()),
            child: None,
            starts: 0,
        };
        this.start_again().await;
        this
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the server and reaps it: every key is gone.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("the private Redis is running");
        child.kill().expect("SIGKILL the private Redis");
        child.wait().expect("reap the private Redis");
    }

    /// Starts the server (again) on the same port, empty; returns once it answers `PING`.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the private Redis is running already");
        self.starts += 1;
        let log = self.log_name();
        let child = Command::new(binary(
            "redis-server",
            "this test runs a Redis of its own; run scripts/setup (or install redis-server)",
        ))
        .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .arg("--dir")
        .arg(&self.dir)
        .stdin(Stdio::null())
        .stdout(log_file(&self.dir, &log))
        .stderr(Stdio::from(log_file(&self.dir, &format!("{log}.err"))))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start redis-server: {error}"));
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.answers_ping() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!(
                    "the private Redis exited with {status}; its log ends:\n{}",
                    tail(&self.dir.join(&log), 30)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the private Redis did not answer PING on port {} within {START_TIMEOUT:?}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_name(&self) -> String {
        format!("redis-{}.log", self.starts)
    }

    /// Whether `PING` gets `+PONG`.
    fn answers_ping(&self) -> bool {
        let ping = || -> std::io::Result<bool> {
            let mut stream = TcpStream::connect_timeout(
                &([127, 0, 0, 1], self.port).into(),
                Duration::from_secs(1),
            )?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            stream.write_all(b"PING\r\n")?;
            let mut reply = [0; 7];
            stream.read_exact(&mut reply)?;
            Ok(&reply == b"+PONG\r\n")
        };
        ping().unwrap_or(false)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        clean_up(
            &self.dir,
            (1..=self.starts).map(|start| format!("redis-{start}.log")),
        );
    }
}
