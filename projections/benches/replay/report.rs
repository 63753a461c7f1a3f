//! The tables `scripts/bench replay` prints.

use std::time::Duration;

use crate::Replayed;
use crate::audit::{Audit, Query};
use crate::generate::Log;
use crate::stats::median;

/// Per round: ours and the baseline's time.
#[derive(Default)]
pub struct Trials {
    pub ledger: Vec<(Replayed, Duration)>,
    pub catalog: Vec<(Replayed, Duration)>,
}

pub struct Run<'a> {
    pub log: &'a Log,
    pub page: usize,
    pub rounds: usize,
    pub ledger_rows: u64,
    pub redis_commands: u64,
    pub read_alone: Duration,
    pub trials: &'a Trials,
    pub audit: &'a Audit,
    pub queries: usize,
}

fn rate(events: u64, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

pub fn print(run: &Run<'_>) {
    let log = run.log;
    println!();
    println!(
        "Log: {} product events on {} streams ({} ledger rows, {} Redis writes), generated \
         through the event store in {} appends of ≤ {} events in {:.1} s ({:.0} events/s). \
         Replay pages of {} events; {} rounds, each A B A B; ratio = median of the rounds' \
         ratios.",
        log.events,
        log.streams,
        run.ledger_rows,
        run.redis_commands,
        log.appends,
        (log.events as f64 / log.appends as f64).ceil(),
        log.took.as_secs_f64(),
        rate(log.events, log.took),
        run.page,
        run.rounds,
    );
    println!();
    println!(
        "| replay of {} events | ours events/s | baseline events/s | ours ÷ baseline | goal |",
        log.events
    );
    println!("|---|---:|---:|---:|---|");
    row(
        "`inventory_ledger` (PostgreSQL) ÷ COPY into an unindexed copy",
        &run.trials.ledger,
        log.events,
        "≥ 50 000/s, ≥ 0.5×",
    );
    row(
        "`catalog` (Redis) ÷ pipelined writes of the same keys",
        &run.trials.catalog,
        log.events,
        "≥ 100 000/s, ≥ 0.5×",
    );
    println!(
        "| stage: `$all` read alone, pages of {} | {:.0} | | | |",
        run.page,
        rate(log.events, run.read_alone)
    );
    println!();
    println!("| replay stage (median of rounds) | `inventory_ledger` | `catalog` |");
    println!("|---|---:|---:|");
    let stage = |f: &dyn Fn(&Replayed) -> f64| {
        let of =
            |trials: &[(Replayed, Duration)]| median(trials.iter().map(|(r, _)| f(r)).collect());
        (of(&run.trials.ledger), of(&run.trials.catalog))
    };
    let (a, b) = stage(&|r| r.took.as_secs_f64());
    println!("| whole replay, s | {a:.2} | {b:.2} |");
    let (a, b) = stage(&|r| r.setup.as_secs_f64());
    println!("| start (new generation) → first page applied, s | {a:.2} | {b:.2} |");
    let (a, b) = stage(&|r| r.switch.as_secs_f64());
    println!("| last page applied → switched, s | {a:.2} | {b:.2} |");
    let (a, b) = stage(&|r| r.pages as f64);
    println!("| pages | {a:.0} | {b:.0} |");
    let (_, b) = stage(&|r| r.script_usec as f64 / 1e6);
    println!("| inside the Redis apply script, s | | {b:.2} |");
    let (a, b) = stage(&|_| run.read_alone.as_secs_f64());
    println!("| `$all` read alone (measured apart), s | {a:.2} | {b:.2} |");
    println!();
    println!(
        "| audit query on that log ({} each, one connection) | rows per query | p50 ms | p99 ms \
         | max ms | goal p99 |",
        run.queries
    );
    println!("|---|---:|---:|---:|---:|---|");
    audit_row(
        "correlation chain (`metadata->>'correlation_id'`, by position)",
        &run.audit.chain,
    );
    audit_row(
        "type + time page (100 by `recorded_at, position`)",
        &run.audit.page,
    );
}

fn row(label: &str, trials: &[(Replayed, Duration)], events: u64, goal: &str) {
    let ours = median(trials.iter().map(|(r, _)| rate(r.events, r.took)).collect());
    let bare = median(trials.iter().map(|(_, d)| rate(events, *d)).collect());
    let ratio = median(
        trials
            .iter()
            .map(|(r, d)| rate(r.events, r.took) / rate(events, *d))
            .collect(),
    );
    println!("| {label} | {ours:.0} | {bare:.0} | {ratio:.2} | {goal} |");
}

fn audit_row(label: &str, query: &Query) {
    println!(
        "| {label} | {:.0} | {:.2} | {:.2} | {:.2} | ≤ 20 ms |",
        query.rows_per_query, query.latency.p50, query.latency.p99, query.latency.max
    );
}
