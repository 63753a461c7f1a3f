//! The fault suite's harness (`docs/faults.md`): every role of the system as a process
//! (`checkout::testing::Stack`) on a PostgreSQL, a Redis and a RocketMQ name server and broker of
//! the test's own (`event_store::testing::infra::PrivateInfra`), so that killing them harms no
//! other test. [`FaultSuite::survive`] runs one fault under load — load, fault, recovery — then
//! checks what must hold after it and records a row of figures; [`FaultSuite::finish`] prints
//! the table and fails the test if any row broke a rule.
#![allow(dead_code)] // each fault test binary uses a part

pub mod checks;
pub mod diagnose;
pub mod load;

use std::{fmt::Write as _, path::PathBuf, time::Duration};

use aggregates::{ProductId, SkuId};
use checkout::testing::{ROLES, Stack, StackOptions, poll_until, wait_until};
use event_store::testing::infra::PrivateInfra;
use tokio::time::Instant;
use uuid::Uuid;

use load::{Load, LoadOutcome, Shop};

/// How long a fault lasts: the process or server is down this long, under load; `FAULT_OUTAGE_SECS`
/// makes it longer to reproduce what a long outage does (docs/faults.md).
fn outage() -> Duration {
    std::env::var("FAULT_OUTAGE_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs)
}
/// A checkout not paid by then is compensated: longer than any outage and its recovery (the
/// RocketMQ client waits up to 30 s before reconnecting to a broker it lost), so every purchase
/// of the load can complete.
const CHECKOUT_DEADLINE: Duration = Duration::from_secs(60);
/// A checkout not settled this long past its deadline is stuck (`checkout.stuck_after_secs`).
const STUCK_AFTER: Duration = Duration::from_secs(60);
/// Longest wait for the recovery: from the restart until a purchase started afterwards
/// completed. Each fault is held to its own, shorter bound ([`Fault::recovery_bound`]); this one
/// lets the suite measure how late a slow recovery is.
const RECOVERY: Duration = Duration::from_secs(90);
/// How long the load runs on once purchases complete again after the fault: the recovered
/// system under load, its acknowledged writes checked with the rest.
const LOAD_AROUND: Duration = Duration::from_secs(5);
/// Longest wait for the read models to apply the whole log once the load stopped (see
/// [`RECOVERY`]).
const CATCH_UP: Duration = Duration::from_secs(90);
/// Most stuck purchases a failure names (then how many more).
const STUCK_SHOWN: usize = 10;
/// Products the harness's buyers buy.
const PRODUCTS: usize = 3;
/// Each buyer has one purchase under way at a time (`load::settled`): eight keep the
/// process manager busy without an offered load that outgrows a slow machine.
const CUSTOMERS: usize = 8;

/// What is done to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL of a role of the stack (`customer` … `payment`, `relay`, `projections`,
    /// `checkout`, `query`, `http`), started again after [`outage`].
    Kill(&'static str),
    /// SIGKILL of the RocketMQ broker, started again on the same store.
    Broker,
    /// SIGKILL of the RocketMQ name server, started again.
    NameServer,
    /// PostgreSQL stopped as by a crash (`pg_ctl stop -m immediate`), started again.
    Postgres,
    /// Redis SIGKILLed and started again empty (no persistence): every Redis read model lost.
    Redis,
}

impl Fault {
    /// The fault's name in the table.
    pub fn name(self) -> String {
        match self {
            Self::Kill(role) => format!("kill -9 {role}"),
            Self::Broker => "kill -9 broker".into(),
            Self::NameServer => "kill -9 name server".into(),
            Self::Postgres => "PostgreSQL crash".into(),
            Self::Redis => "Redis restart, empty".into(),
        }
    }

    /// How soon after the restart a purchase must complete again. A process restarted after a
    /// SIGKILL takes its broker queues back at once (its client instance name is the same, so
    /// the dead process's queue locks are its own: `settings/src/rocketmq.rs`), where a new name
    /// waited a minute for them to expire. A broker or name server lost costs the RocketMQ
    /// client's reconnection back-off (up to 30 s) on top.
    /// The bound is 50 s for a process: it still fails the old minute-long lock wait (64 s
    /// measured), with room for a machine as busy as CI's (34 s measured after the HTTP API's
    /// SIGKILL, 2.3 s on a quiet one).
    fn recovery_bound(self) -> Duration {
        match self {
            Self::Broker | Self::NameServer => Duration::from_secs(60),
            _ => Duration::from_secs(50),
        }
    }

    /// The errors a client may see while this fault lasts: gRPC `UNAVAILABLE` and HTTP 503
    /// always; a refused HTTP connection only while the HTTP API itself is down; a gRPC call
    /// whose connection broke under it only while a command service is killed; a purchase the
    /// load generator gave up waiting for, with any fault. (An HTTP read the query service
    /// answered later than the HTTP API waits is a 503 `timeout` with `Retry-After`.)
    fn documented(self, kind: &str) -> bool {
        let command_service = matches!(
            self,
            Self::Kill("customer" | "product" | "cart" | "order" | "payment")
        );
        matches!(kind, "grpc UNAVAILABLE" | "http 503")
            || (self == Self::Kill("http") && kind == "http connect")
            // The harness's clients and the load generator name that same client-side report
            // differently ("grpc transport" is loadgen's ErrorKind::GrpcTransport).
            || (command_service && matches!(kind, "grpc connection broken" | "grpc transport"))
            // The load generator stops waiting for a purchase after 30 s: a client's patience,
            // not the product's promise. Any fault may hold purchases up that long — purchases
            // need only be going again within the fault's recovery bound (50 s, 60 s for the
            // broker and the name server), and a purchase placed just before a fault waits for
            // the recovery and then its own steps. The promise is checked separately and more
            // strictly: purchases again within the bound, and none stuck.
            || kind == "purchase unsettled"
    }
}

/// One fault's figures.
struct Row {
    fault: Fault,
    recovered_in: Duration,
    caught_up_in: Option<Duration>,
    acknowledged: usize,
    lost: usize,
    divergences: u64,
    purchases: (usize, usize),
    stuck: usize,
    errors: String,
    problems: Vec<String>,
}

/// A stack on private infrastructure, with a catalog and customers, surviving a fault.
pub struct FaultSuite {
    // Dropped in this order: the processes before the servers they use.
    stack: Stack,
    infra: PrivateInfra,
    shop: Shop,
    /// The harness's own buyers (the load generator brings customers of its own).
    customers: Vec<String>,
    rows: Vec<Row>,
    started: Instant,
    /// Where the processes log (`STACK_LOGS`, or a directory of the suite's own, removed at
    /// the end).
    logs: PathBuf,
    own_logs: bool,
    /// How busy the machine was before the stack started ([`diagnose::machine_load`]).
    machine_before: String,
}

impl FaultSuite {
    /// Starts the private servers, every role on them, and creates the load's catalog and
    /// customers.
    async fn start() -> Self {
        let started = Instant::now();
        let machine_before = diagnose::machine_load(Duration::from_secs(1)).await;
        eprintln!("fault suite: machine before the stack: {machine_before}");
        let (logs, own_logs) = match std::env::var_os("STACK_LOGS") {
            Some(dir) => (PathBuf::from(dir), false),
            None => {
                let dir = std::env::temp_dir().join(format!("fault-logs-{}", Uuid::new_v4()));
                std::fs::create_dir_all(&dir).expect("a directory for the processes' logs");
                (dir, true)
            }
        };
        let infra = PrivateInfra::start().await;
        let db = infra.database(4).await;
        let stack = Stack::start_on(
            db,
            StackOptions {
                deadline_secs: CHECKOUT_DEADLINE.as_secs(),
                stuck_after_secs: STUCK_AFTER.as_secs(),
                log_dir: Some(logs.clone()),
                ..StackOptions::default()
            },
        )
        .await;
        let mut catalog: Vec<(ProductId, SkuId)> = Vec::new();
        for _ in 0..PRODUCTS {
            catalog.push(stack.product(100, 1_000_000).await);
        }
        let customers: Vec<Uuid> = (0..CUSTOMERS).map(|_| Uuid::new_v4()).collect();
        for customer in &customers {
            stack.customer(*customer, 1_000_000_000).await;
        }
        let shop = Shop::new(&stack, &customers, &catalog);
        // The readers check that every product shows: start once the catalog has them all.
        let http = reqwest::Client::new();
        let url = format!("{}/api/v1/products?limit=100", stack.http_url());
        let admin = stack.token("operator", &["admin"]);
        wait_until(
            Instant::now() + Duration::from_secs(60),
            "the catalog shows every product",
            || async {
                let Ok(response) = http.get(&url).bearer_auth(&admin).send().await else {
                    return false;
                };
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                body["products"].as_array().map_or(0, Vec::len) == PRODUCTS
            },
        )
        .await;
        eprintln!("fault suite: stack up in {:?}", started.elapsed());
        Self {
            stack,
            infra,
            shop,
            customers: customers.iter().map(Uuid::to_string).collect(),
            rows: Vec::new(),
            started,
            logs,
            own_logs,
            machine_before,
        }
    }

    /// One fault on a stack of its own: start, [`survive`](Self::survive), [`finish`](Self::finish).
    /// Each fault is a test of its own so that one test's time stays within nextest's bound on a
    /// busy machine (five command-service kills on one stack took over 8 minutes in CI), and a
    /// fault starts from a small log, so its checks are quick.
    pub async fn survive_alone(fault: Fault) {
        let mut suite = Self::start().await;
        suite.survive(fault).await;
        suite.finish().await;
    }

    /// Runs `fault` under load, waits for the recovery, checks, and records the figures.
    async fn survive(&mut self, fault: Fault) {
        let began = Instant::now();
        let load = Load::start(&self.shop);
        // The load generator sets up customers and products of its own first: the fault waits
        // until one of its purchases completed (its setup done, the whole path working).
        let before = self.log_end().await;
        let first = self
            .wait_for_purchase_after(before, &self.customers, RECOVERY)
            .await;
        eprintln!(
            "fault suite: {}: first purchase of the load after {:?}",
            fault.name(),
            began.elapsed()
        );
        if first.is_none() {
            let outcome = load.stop().await;
            let mut row = self.check(fault, outcome, None).await;
            row.problems.insert(
                0,
                format!(
                    "no purchase of the load completed within {RECOVERY:?} before the fault: \
                     fault not injected"
                ),
            );
            self.rows.push(row);
            return;
        }
        self.inject(fault).await;
        let restarted = Instant::now();
        let recovered = self
            .wait_for_purchase_after(self.log_end().await, &[], RECOVERY)
            .await;
        let recovered_in = restarted.elapsed();
        // Pacing: let the load run on the recovered system for a moment.
        tokio::time::sleep(LOAD_AROUND).await;
        let outcome = load.stop().await;
        let checks_began = Instant::now();
        let row = self
            .check(fault, outcome, recovered.map(|()| recovered_in))
            .await;
        eprintln!(
            "fault suite: {} done in {:?} (fault after {:?}, checks {:?}){}",
            fault.name(),
            began.elapsed(),
            restarted.duration_since(began),
            checks_began.elapsed(),
            if row.problems.is_empty() {
                String::new()
            } else {
                format!(": {} problems", row.problems.len())
            }
        );
        self.rows.push(row);
    }

    async fn inject(&mut self, fault: Fault) {
        let infra = &mut self.infra;
        // The outage's length is the fault itself (the load runs against it), not a wait for a
        // condition.
        match fault {
            Fault::Kill(role) => {
                self.stack.kill(role);
                tokio::time::sleep(outage()).await;
                self.stack.spawn(role);
                if let Some(&port) = self.stack.ports.get(role) {
                    wait_until(
                        Instant::now() + RECOVERY,
                        &format!("{role} listens again"),
                        || async move { std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() },
                    )
                    .await;
                }
            }
            Fault::Broker => {
                infra.broker.kill_broker();
                tokio::time::sleep(outage()).await;
                infra.broker.start_broker().await;
            }
            Fault::NameServer => {
                infra.broker.kill_name_server();
                tokio::time::sleep(outage()).await;
                infra.broker.start_name_server().await;
            }
            Fault::Postgres => {
                infra.postgres.stop_immediately().await;
                tokio::time::sleep(outage()).await;
                infra.postgres.start_again().await;
            }
            Fault::Redis => {
                infra.redis.kill();
                tokio::time::sleep(outage()).await;
                infra.redis.start_again().await;
            }
        }
    }

    /// The log's last position (asked again while the database is not answering yet).
    async fn log_end(&self) -> i64 {
        let pool = &self.stack.db.pool;
        poll_until(Instant::now() + RECOVERY, || async move {
            sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
                .fetch_one(pool)
                .await
                .ok()
        })
        .await
        .expect("the database answers")
    }

    /// Waits until a checkout started after position `after` by a customer not in `besides`
    /// has completed: the whole path — command services, log, relay, broker, process manager —
    /// works. `None` if not `within`.
    async fn wait_for_purchase_after(
        &self,
        after: i64,
        besides: &[String],
        within: Duration,
    ) -> Option<()> {
        let pool = &self.stack.db.pool;
        poll_until(Instant::now() + within, || async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM events started JOIN events done \
                   ON done.stream_id = started.stream_id \
                 WHERE started.event_type = 'CheckoutStarted' AND started.position > $1 \
                   AND started.data ->> 'customer_id' <> ALL($2) \
                   AND done.event_type = 'CheckoutCompleted')",
            )
            .bind(after)
            .bind(besides)
            .fetch_one(pool)
            .await
            .ok()
            .filter(|done| *done)
            .map(drop)
        })
        .await
    }

    /// The checks after `fault`, as a row.
    async fn check(
        &self,
        fault: Fault,
        outcome: LoadOutcome,
        recovered_in: Option<Duration>,
    ) -> Row {
        let mut problems = Vec::new();
        match recovered_in {
            None => problems.push(format!(
                "no purchase started after the restart completed within {RECOVERY:?}"
            )),
            Some(took) if took > fault.recovery_bound() => problems.push(format!(
                "purchases completed again only {took:.1?} after the restart (bound {:?})",
                fault.recovery_bound()
            )),
            Some(_) => {}
        }
        // Each check's time, printed: where a slow run's minutes went.
        let mut step = Instant::now();
        let mut took = |what: &str| {
            eprintln!(
                "fault suite: {} check {what}: {:?}",
                fault.name(),
                step.elapsed()
            );
            step = Instant::now();
        };
        let lost = checks::lost_writes(&self.stack.db.pool, &outcome.acknowledged).await;
        took("lost writes");
        let orders = checks::orders_placed(&outcome.acknowledged);
        let (completed, cancelled, stuck) =
            checks::settle(&self.stack, &orders, CHECKOUT_DEADLINE, STUCK_AFTER).await;
        took("purchases settled");
        let unpublished =
            checks::missing_from_broker(&self.stack, &["order", "payment"], CATCH_UP).await;
        took("broker has the log");
        let verified = checks::read_models_verify(&self.stack, CATCH_UP).await;
        took("read models verified");
        let divergences = verified
            .as_ref()
            .err()
            .map_or(0, |report| checks::divergences(report));
        let caught_up_in = verified.as_ref().ok().copied();
        let mut errors = String::new();
        for (kind, (count, detail)) in &outcome.errors {
            let _ = write!(
                errors,
                "{}{kind} {count}",
                if errors.is_empty() { "" } else { ", " }
            );
            if !fault.documented(kind) {
                problems.push(format!(
                    "undocumented error {kind} ×{count}, first: {detail}"
                ));
            }
        }
        if outcome.acknowledged.is_empty() {
            problems.push("the load had no command acknowledged: it proved nothing".into());
        }
        problems.extend(
            outcome
                .wrong
                .iter()
                .map(|wrong| format!("wrong answer: {wrong}")),
        );
        problems.extend(lost.iter().map(|lost| format!("lost write: {lost}")));
        problems.extend(
            stuck
                .iter()
                .take(STUCK_SHOWN)
                .map(|stuck| format!("stuck: {stuck}")),
        );
        if stuck.len() > STUCK_SHOWN {
            problems.push(format!(
                "stuck: {} more purchases",
                stuck.len() - STUCK_SHOWN
            ));
        }
        problems.extend(
            unpublished
                .iter()
                .map(|event| format!("in the log, not in the broker: {event}")),
        );
        if let Err(report) = verified {
            problems.push(format!("read models differ from a rebuild: {report}"));
        }
        Row {
            fault,
            recovered_in: recovered_in.unwrap_or(RECOVERY),
            caught_up_in,
            acknowledged: outcome.acknowledged.len(),
            lost: lost.len(),
            divergences,
            purchases: (completed, cancelled),
            stuck: stuck.len(),
            errors: if errors.is_empty() {
                "none".into()
            } else {
                errors
            },
            problems,
        }
    }

    /// Prints the figures as a table (stdout: `--no-capture` shows it) and fails the test,
    /// naming every problem, if any fault broke a rule, with how busy the machine was and the
    /// first and last lines each process logged.
    async fn finish(self) {
        let mut table = String::from(
            "\n| fault | purchases again after | read models caught up after | acknowledged \
             writes | lost | divergences | purchases completed / cancelled | stuck | errors \
             seen (by kind) |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                table,
                "| {} | {:.1} s | {} | {} | {} | {} | {} / {} | {} | {} |",
                row.fault.name(),
                row.recovered_in.as_secs_f64(),
                row.caught_up_in.map_or_else(
                    || "—".to_owned(),
                    |took| format!("{:.1} s", took.as_secs_f64())
                ),
                row.acknowledged,
                row.lost,
                row.divergences,
                row.purchases.0,
                row.purchases.1,
                row.stuck,
                row.errors
            );
        }
        println!(
            "{table}\n(test took {:.0} s)",
            self.started.elapsed().as_secs_f64()
        );
        let problems: Vec<String> = self
            .rows
            .iter()
            .flat_map(|row| {
                let name = row.fault.name();
                row.problems
                    .iter()
                    .map(move |problem| format!("{name}: {problem}"))
            })
            .collect();
        let mut context = String::new();
        if !problems.is_empty() {
            let machine_now = diagnose::machine_load(Duration::from_secs(1)).await;
            let _ = writeln!(
                context,
                "machine before the stack: {}\nmachine at the end: {machine_now}",
                self.machine_before
            );
            for role in ROLES {
                if let Some(path) = self.stack.log_path(role) {
                    let excerpt = diagnose::log_excerpt(&path);
                    if !excerpt.is_empty() {
                        let _ = write!(context, "{role}'s log:\n{excerpt}");
                    }
                }
            }
        }
        if self.own_logs {
            std::fs::remove_dir_all(&self.logs).ok();
        }
        assert!(
            problems.is_empty(),
            "faults broke rules:\n{}\n{context}",
            problems.join("\n")
        );
    }
}
