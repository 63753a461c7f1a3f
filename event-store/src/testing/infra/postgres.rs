//! A PostgreSQL server of a test's own: a cluster made by `initdb` in a temp dir, run by
//! `pg_ctl` on a free loopback port, trust auth, fsync on (what a crash must not lose is then
//! really on disk).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::{START_TIMEOUT, clean_up, free_port, fresh_dir, running_as_root, tail};

/// Where PostgreSQL's server programs are, and the user to run them as.
struct Programs {
    bin: PathBuf,
    /// The cluster's dir, also the programs' working dir (readable by the user they run as).
    dir: PathBuf,
    /// `Some("postgres")` when the test runs as root: PostgreSQL refuses to run as root.
    run_as: Option<&'static str>,
}

impl Programs {
    /// A command running `program` of PostgreSQL's bin dir (as the `postgres` user under root).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        };
        command.current_dir(&self.dir);
        command
    }
}

/// A PostgreSQL server on `127.0.0.1:<port>` with its cluster in a temp dir; stopped (immediate)
/// and its dir removed when dropped.
pub struct PrivatePostgres {
    dir: PathBuf,
    port: u16,
    programs: Programs,
    running: bool,
}

impl PrivatePostgres {
    /// Makes a cluster with `initdb` (superuser `postgres`, trust auth) and starts it; returns
    /// once it accepts connections.
    pub async fn start() -> Self {
        let bin = bin_dir();
        let dir = fresh_dir("private-postgres");
        let run_as = running_as_root(&dir).then_some("postgres");
        if let Some(user) = run_as {
            let chowned = Command::new("chown").arg(user).arg(&dir).status();
            assert!(
                chowned.is_ok_and(|status| status.success()),
                "running as root, the private PostgreSQL runs as user `{user}`, which must exist \
                 (chown {} failed)",
                dir.display()
            );
        }
        let programs = Programs {
            bin,
            dir: dir.clone(),
            run_as,
        };
        let mut initdb = programs.command("initdb");
        initdb.arg("-D").arg(dir.join("data")).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb", None).await;
        let mut this = Self {
            dir,
            port: free_port(&mut Vec::new()),
            programs,
            running: false,
        };
        this.start_again().await;
        this
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server the way a crash would (`pg_ctl stop -m immediate`: every backend quits
    /// at once, no checkpoint; the next start recovers from the WAL).
    pub async fn stop_immediately(&mut self) {
        assert!(self.running, "the private PostgreSQL is not running");
        run(self.stop_command(), "pg_ctl stop -m immediate", None).await;
        self.running = false;
    }

    /// Starts the server (again) on the same port and cluster; returns once it accepts
    /// connections (recovery included).
    pub async fn start_again(&mut self) {
        assert!(!self.running, "the private PostgreSQL is running already");
        let mut start = self.programs.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", &START_TIMEOUT.as_secs().to_string(), "-l"])
            .arg(self.dir.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=on -c shared_buffers=16MB",
                self.port,
                self.dir.display()
            ))
            .arg("start");
        run(start, "pg_ctl start", Some(self.dir.join("server.log"))).await;
        self.running = true;
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn stop_command(&self) -> Command {
        let mut stop = self.programs.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        stop
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop_command().output();
        }
        clean_up(&self.dir, ["server.log".to_owned()]);
    }
}

/// PostgreSQL's bin dir: `pg_config --bindir` if it holds `initdb`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout, where `pg_config` may come from
/// another package).
fn bin_dir() -> PathBuf {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file();
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|dir| has_initdb(dir));
    from_pg_config
        .or_else(|| {
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let version = entry.file_name().to_str()?.parse().ok()?;
                    Some((version, entry.path().join("bin")))
                })
                .filter(|(_, dir)| has_initdb(dir))
                .collect();
            versions.sort();
            versions.pop().map(|(_, dir)| dir)
        })
        .expect(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: run scripts/setup \
             (or install the postgresql package)",
        )
}

/// Runs `command` to completion off the async runtime; panics with its output (and the tail of
/// `log`) if it fails.
async fn run(mut command: Command, what: &'static str, log: Option<PathBuf>) {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the command's thread")
        .unwrap_or_else(|error| panic!("{what} cannot run: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        log.map(|log| tail(&log, 30)).unwrap_or_default()
    );
}
