//! The outcome of a run: per-flow counts and latency percentiles, expected outcomes, errors by
//! kind, purchases and every command the shop acknowledged; printed as a table
//! ([`fmt::Display`]) or serialized as JSON.

use std::{collections::BTreeMap, fmt};

use serde::Serialize;
use uuid::Uuid;

use crate::{config::Flow, error::ErrorKind, stats::Latency};

/// What a run did and saw.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `closed` (users running flows back to back) or `open` (flows started at a fixed rate).
    pub mode: &'static str,
    /// Virtual customers.
    pub users: usize,
    /// Flows per second asked for (open loop).
    pub offered_rate: Option<f64>,
    /// How long the setup phase took (customers, products, waiting for the read models).
    pub setup_secs: f64,
    /// How long the timed phase took, from its start until the last flow ended or was abandoned.
    pub elapsed_secs: f64,
    /// gRPC and HTTP requests made in the timed phase (including a purchase's follow-up reads).
    pub requests: u64,
    /// `requests` per second of `elapsed_secs`.
    pub requests_per_sec: f64,
    /// Flows finished per second of `elapsed_secs`.
    pub flows_per_sec: f64,
    /// Per flow: counts and latency.
    pub flows: BTreeMap<Flow, FlowReport>,
    /// Expected outcomes other than success (an item out of stock, a purchase refused for
    /// insufficient balance, a conflict that was retried), by flow and outcome.
    pub expected: Vec<OutcomeCount>,
    /// Errors by flow, kind and reason; `tolerated` says whether the run's configuration
    /// tolerates the kind.
    pub errors: Vec<ErrorCount>,
    /// The purchases acknowledged by `Checkout`, by how they ended.
    pub purchases: Purchases,
    /// Open loop: flows that started more than [`crate::LATE_START`] after their scheduled time.
    pub late_starts: u64,
    /// Open loop: the largest delay of a start behind its schedule.
    pub max_start_delay_ms: f64,
    /// Flows still running when the drain after the stop ended (their requests may or may not
    /// have reached the shop; none of them is in `acknowledged`).
    pub abandoned: u64,
    /// Errors of kinds not tolerated: a non-zero value fails the run.
    pub unexpected: u64,
    /// Errors of tolerated kinds.
    pub tolerated: u64,
    /// Every command the shop acknowledged (answered OK), setup included, in the order the
    /// answers arrived: each must have its events in the log.
    pub acknowledged: Vec<Acknowledged>,
}

/// One flow's counts and latency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowReport {
    /// Flows finished (succeeded, expected outcome or error).
    pub count: u64,
    /// Succeeded.
    pub ok: u64,
    /// Ended in an expected outcome.
    pub expected: u64,
    /// Ended in an error (tolerated or not).
    pub errors: u64,
    /// Latency of the flows that succeeded or ended as expected (errors are left out: a refused
    /// connection is fast and would flatter the figures). Open loop: from the scheduled start.
    pub latency: Latency,
}

/// How many flows ended in one expected outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeCount {
    /// The flow.
    pub flow: Flow,
    /// The outcome, e.g. `out of stock`.
    pub outcome: String,
    /// How many times.
    pub count: u64,
}

/// How many requests failed with one kind and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorCount {
    /// The flow.
    pub flow: Flow,
    /// The class.
    pub kind: ErrorKind,
    /// The short reason.
    pub reason: String,
    /// How many times.
    pub count: u64,
    /// Whether the run tolerates the kind.
    pub tolerated: bool,
}

/// The purchases `Checkout` acknowledged, by how they ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Purchases {
    /// Acknowledged by `Checkout`.
    pub placed: u64,
    /// Paid and completed.
    pub completed: u64,
    /// Cancelled for a reason a healthy shop gives (`out of stock`, `insufficient balance`), by
    /// reason.
    pub cancelled: BTreeMap<String, u64>,
    /// Ended otherwise, or not final within the settle timeout (counted as errors too).
    pub failed: u64,
    /// Still being followed when the run stopped.
    pub unfollowed: u64,
    /// From `Checkout` acknowledged to the outcome read over HTTP.
    pub settle: Latency,
}

/// A command the shop acknowledged: its events must be in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledged {
    /// The rpc, e.g. `CartCommands.AddItem`.
    pub command: &'static str,
    /// The command id sent.
    pub command_id: Uuid,
    /// The stream the reply named.
    pub stream_id: String,
    /// The stream's version after the command (its last event's).
    pub version: u64,
    /// The global position of the command's last event.
    pub position: u64,
}

impl Report {
    /// Whether the run saw no unexpected error.
    pub fn passed(&self) -> bool {
        self.unexpected == 0
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = self
            .offered_rate
            .map(|rate| format!(", {rate} flows/s offered"))
            .unwrap_or_default();
        writeln!(
            f,
            "{} loop, {} users{rate}: setup {:.1} s, timed phase {:.1} s",
            self.mode, self.users, self.setup_secs, self.elapsed_secs
        )?;
        writeln!(
            f,
            "{} requests ({:.1}/s), {:.1} flows/s, {} commands acknowledged",
            self.requests,
            self.requests_per_sec,
            self.flows_per_sec,
            self.acknowledged.len()
        )?;
        if self.offered_rate.is_some() {
            writeln!(
                f,
                "late starts: {} (max {:.1} ms behind schedule)",
                self.late_starts, self.max_start_delay_ms
            )?;
        }
        writeln!(
            f,
            "\n{:<12} {:>7} {:>7} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "flow", "count", "ok", "expected", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"
        )?;
        for (flow, line) in &self.flows {
            let l = &line.latency;
            writeln!(
                f,
                "{:<12} {:>7} {:>7} {:>8} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                flow.name(),
                line.count,
                line.ok,
                line.expected,
                line.errors,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms
            )?;
        }
        let p = &self.purchases;
        writeln!(
            f,
            "\npurchases: {} placed, {} completed, cancelled {:?}, {} failed, {} still running at \
             the stop; settled p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            p.placed,
            p.completed,
            p.cancelled,
            p.failed,
            p.unfollowed,
            p.settle.p50_ms,
            p.settle.p99_ms,
            p.settle.max_ms
        )?;
        if !self.expected.is_empty() {
            writeln!(f, "\nexpected outcomes:")?;
            for line in &self.expected {
                writeln!(
                    f,
                    "  {:>6}  {:<12} {}",
                    line.count,
                    line.flow.name(),
                    line.outcome
                )?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f, "\nerrors:")?;
            for line in &self.errors {
                let class = if line.tolerated {
                    "tolerated"
                } else {
                    "UNEXPECTED"
                };
                writeln!(
                    f,
                    "  {:>6}  {:<10} {:<12} {}: {}",
                    line.count,
                    class,
                    line.flow.name(),
                    line.kind,
                    line.reason
                )?;
            }
        }
        if self.abandoned > 0 {
            writeln!(f, "\n{} flows abandoned at the stop", self.abandoned)?;
        }
        writeln!(
            f,
            "\n{} unexpected errors, {} tolerated: {}",
            self.unexpected,
            self.tolerated,
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}
