//! The max sustainable rate of one read model: the highest offered rate whose append → visible
//! p99 stays under [`LIMIT`], found with a few short probes in the same run as the rate rows.
//!
//! The rows give the first bounds: the highest rate that passed, and the lowest failing rate above
//! it. Without a failing bound the search steps up ×1.5 (up to the cap); with both it bisects,
//! until the bounds are within [`RESOLUTION`] of each other, or after [`MAX_PROBES`] probes.
//! A probe passes only if the rate was really offered (no dropped ticks, appends committed at
//! least at [`lag::KEPT_UP`] of it), no append failed and the read models had caught up with
//! everything before it ([`Bench::settle`]); a probe's warm-up samples are left out as a row's.

use std::time::Duration;

use crate::lag::{self, Bench, Lane, Offer, Row};

/// The p99 append → visible a sustainable rate stays under.
pub const LIMIT: Duration = Duration::from_secs(1);
/// Most probes of one search.
const MAX_PROBES: usize = 6;
/// The search stops when the failing bound is within this share above the passing one.
const RESOLUTION: f64 = 0.1;
/// Below this rate a search that found no passing rate gives up.
const MIN_RATE: u32 = 50;
/// How long a probe waits for its last events to show: an event unseen after it counts with the
/// time waited, already far above [`LIMIT`].
const PROBE_DRAIN: Duration = Duration::from_secs(5);

/// What one search found.
pub struct Found {
    pub model: &'static str,
    pub backend: &'static str,
    /// The row or probe at the highest passing rate.
    pub best: Option<Row>,
    /// The lowest failing rate above it, if any was tried.
    pub failed_above: Option<u32>,
    /// Every rate tried, in order: rows first, then probes, each with its outcome.
    pub trail: Vec<String>,
    /// Why the search ended.
    pub ended: String,
}

/// Searches the max sustainable rate of `lane`, starting from its `rows`, up to `cap` per second,
/// each probe `probe` long.
pub async fn max_rate(
    bench: &Bench<'_>,
    lane: &Lane,
    rows: &[Row],
    cap: u32,
    probe: Duration,
) -> Found {
    let mut trail = Vec::new();
    let mut best: Option<Row> = None;
    let mut failed: Vec<u32> = Vec::new();
    for row in rows.iter().filter(|r| r.model == lane.model) {
        match row.sustained(LIMIT) {
            Ok(()) => {
                trail.push(format!(
                    "{} pass (row, p99 {:.0} ms)",
                    row.rate, row.lag.p99
                ));
                if best.as_ref().is_none_or(|b| b.rate < row.rate) {
                    best = Some(row.clone());
                }
            }
            Err(why) => {
                trail.push(format!("{} fail (row, {why})", row.rate));
                failed.push(row.rate);
            }
        }
    }
    let lowest_fail_above = |best: &Option<Row>, failed: &[u32]| {
        let floor = best.as_ref().map_or(0, |b| b.rate);
        failed.iter().copied().filter(|&f| f > floor).min()
    };
    let mut probes = 0;
    let ended = loop {
        let hi = lowest_fail_above(&best, &failed);
        let next = match (best.as_ref().map(|b| b.rate), hi) {
            (Some(lo), None) if lo >= cap => break format!("reached the cap of {cap}/s"),
            (Some(lo), None) => round(f64::from(lo) * 1.5).min(cap),
            (Some(lo), Some(hi)) => {
                let mid = round((f64::from(lo) + f64::from(hi)) / 2.0);
                if f64::from(hi) <= f64::from(lo) * (1.0 + RESOLUTION) || mid <= lo || mid >= hi {
                    break format!("bounds within {:.0} %", RESOLUTION * 100.0);
                }
                mid
            }
            (None, Some(hi)) if hi / 2 < MIN_RATE => {
                break format!("no rate down to {MIN_RATE}/s passed");
            }
            (None, Some(hi)) => round(f64::from(hi) / 2.0),
            (None, None) => cap.min(1_000),
        };
        if probes == MAX_PROBES {
            break format!("{MAX_PROBES} probes done");
        }
        if let Err(behind) = bench.settle(lag::SETTLE).await {
            break format!(
                "the read models were still behind on {behind} streams after {} s",
                lag::SETTLE.as_secs()
            );
        }
        probes += 1;
        let offer = Offer {
            rate: next,
            duration: probe,
            drain: PROBE_DRAIN,
        };
        let row = lag::run(bench.store, lane, bench.deliveries, offer).await;
        match row.sustained(LIMIT) {
            Ok(()) => {
                trail.push(format!("{next} pass (p99 {:.0} ms)", row.lag.p99));
                best = Some(row);
            }
            Err(why) => {
                trail.push(format!("{next} fail ({why})"));
                failed.push(next);
            }
        }
    };
    Found {
        model: lane.model,
        backend: lane.backend,
        failed_above: lowest_fail_above(&best, &failed),
        best,
        trail,
        ended,
    }
}

/// `x` rounded to two significant digits (at least 1).
fn round(x: f64) -> u32 {
    if x < 1.0 {
        return 1;
    }
    let step = 10f64.powi((x.log10().floor() as i32 - 1).max(0));
    ((x / step).round() * step) as u32
}
