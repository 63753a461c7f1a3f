//! The tables `scripts/bench projections` prints.

use crate::{
    lag, raw,
    search::{self, Found},
    stats::{self, ms},
    throughput,
};

pub fn relay(row: &throughput::Row) {
    let rate =
        |trials: &[throughput::Trial]| stats::median(trials.iter().map(|t| t.rate).collect());
    let startup = |trials: &[throughput::Trial]| {
        stats::median(trials.iter().map(|t| ms(t.startup)).collect())
    };
    println!();
    println!(
        "| relay throughput ({} events, {} pairs) | events/s | start-up ms |",
        row.events,
        row.ours.len()
    );
    println!("|---|---:|---:|");
    println!(
        "| relay: log → broker, checkpointed | {:.0} | {:.0} |",
        rate(&row.ours),
        startup(&row.ours)
    );
    println!(
        "| baseline: `send_events`, batches of 256 | {:.0} | {:.0} |",
        rate(&row.raw),
        startup(&row.raw)
    );
    println!(
        "| relay ÷ baseline (median of pairs) | {:.2} | |",
        row.ratio
    );
}

/// The lag rows, the baseline rows, then per read model its max sustainable rate and the
/// baseline at that rate (`max_raw`, in the order of `found`).
pub fn lag(
    rows: &[lag::Row],
    raw_rows: &[raw::Row],
    found: &[Found],
    max_raw: &[Option<raw::Row>],
    probe_secs: u64,
) {
    println!();
    println!(
        "| end-to-end lag | offered/s asked → achieved | offered | appended | observed | \
         append errors | p50 ms | p99 ms | max ms | commit → delivered p50 / p99 ms | \
         append p50 / p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        lag_row(&format!("append → `{}` ({})", r.model, r.backend), r);
    }
    for r in raw_rows {
        raw_row("baseline: RocketMQ `send_ordered` → orderly consumer", r);
    }
    let limit = ms(search::LIMIT);
    for (f, raw) in found.iter().zip(max_raw) {
        let label = format!(
            "max sustainable rate (p99 < {limit:.0} ms): append → `{}` ({})",
            f.model, f.backend
        );
        match &f.best {
            Some(best) => {
                let bound = f
                    .failed_above
                    .map_or_else(String::new, |rate| format!("; {rate}/s failed"));
                lag_row(&format!("{label}{bound}"), best);
            }
            None => println!(
                "| {label} | none passed{} | | | | | | | | | |",
                f.failed_above
                    .map_or_else(String::new, |rate| format!(" (lowest tried {rate}/s)"))
            ),
        }
        let raw_label = format!(
            "baseline at `{}`'s max rate: RocketMQ `send_ordered` → orderly consumer",
            f.model
        );
        match raw {
            Some(r) => raw_row(&raw_label, r),
            None => println!("| {raw_label} | not measured | | | | | | | | | |"),
        }
    }
    if rows
        .iter()
        .chain(found.iter().filter_map(|f| f.best.as_ref()))
        .any(|r| r.unseen > 0)
    {
        println!();
        println!(
            "Events the read model had not shown when a row stopped waiting (\"unseen\") count \
             with the time waited for them: that row's p99 and max are lower bounds."
        );
    }
    if found.is_empty() {
        println!();
        println!("Max sustainable rate: not searched (BENCH_MAX_RATE=0).");
    }
    for f in found {
        println!();
        println!(
            "Max sustainable rate search, `{}` (probes of {probe_secs} s): {}; ended: {}.",
            f.model,
            f.trail.join(" → "),
            f.ended
        );
    }
}

fn lag_row(label: &str, r: &lag::Row) {
    let label = if r.started_behind > 0 {
        format!(
            "{label} (started with the models behind on {} streams)",
            r.started_behind
        )
    } else {
        label.to_owned()
    };
    let behind = if r.behind() { " (behind)" } else { "" };
    let dropped = if r.dropped > 0 {
        format!(" ({} not offered)", r.dropped)
    } else {
        String::new()
    };
    let unseen = if r.unseen > 0 {
        format!(" ({} unseen)", r.unseen)
    } else {
        String::new()
    };
    println!(
        "| {label} | {} → {:.0}{behind} | {}{dropped} | {} | {}{unseen} | {} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
        r.rate,
        r.achieved,
        r.offered,
        r.appended,
        r.observed,
        r.errors,
        r.lag.p50,
        r.lag.p99,
        r.lag.max,
        r.delivered.p50,
        r.delivered.p99,
        r.append.p50,
        r.append.p99,
    );
}

fn raw_row(label: &str, r: &raw::Row) {
    let behind = if r.achieved < lag::KEPT_UP * f64::from(r.rate) {
        " (behind)"
    } else {
        ""
    };
    println!(
        "| {label} | {} → {:.0}{behind} | {} | {} sent | {} received | {} send errors | {:.1} | {:.1} | {:.1} | | |",
        r.rate,
        r.achieved,
        r.offered,
        r.sent,
        r.received,
        r.errors,
        r.lag.p50,
        r.lag.p99,
        r.lag.max,
    );
}
