//! Latency samples and their percentiles. Every sample is kept (microseconds as `u32`, 4 bytes
//! each: a 5-minute run at 1 000 flows/s holds 1.2 MB), so percentiles are exact nearest-rank
//! values rather than a histogram's buckets.

use std::time::Duration;

use serde::Serialize;

/// Latencies of one kind of operation.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<u32>);

impl Samples {
    /// Adds one latency (saturating at about 71 minutes).
    pub fn record(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// p50, p90, p99 and the maximum.
    pub fn summary(&self) -> Latency {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        Latency {
            p50_ms: percentile(&sorted, 50.0),
            p90_ms: percentile(&sorted, 90.0),
            p99_ms: percentile(&sorted, 99.0),
            max_ms: sorted.last().map_or(0.0, |&us| millis(us)),
        }
    }
}

/// Percentiles of a set of latencies, in milliseconds (0 when there were none).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// The nearest-rank `p`th percentile of `sorted` microseconds, in milliseconds: the smallest
/// sample with at least `p` % of the samples at or below it (0 for no samples).
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank: ceil(p/100 · n), 1-based; the product of a percentage and a sample count
    // is far below 2^52, so the float is exact enough.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    millis(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn millis(micros: u32) -> f64 {
    f64::from(micros) / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(millis: impl IntoIterator<Item = u64>) -> Samples {
        let mut samples = Samples::default();
        for ms in millis {
            samples.record(Duration::from_millis(ms));
        }
        samples
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let latency = samples((1..=100).rev()).summary();
        assert_eq!(latency.p50_ms, 50.0);
        assert_eq!(latency.p90_ms, 90.0);
        assert_eq!(latency.p99_ms, 99.0);
        assert_eq!(latency.max_ms, 100.0);
    }

    #[test]
    fn a_single_slow_sample_shows_only_in_the_tail() {
        let latency = samples((0..999).map(|_| 2).chain([500])).summary();
        assert_eq!(latency.p50_ms, 2.0);
        assert_eq!(latency.p99_ms, 2.0);
        assert_eq!(latency.max_ms, 500.0);
        let few = samples([1, 9]).summary();
        assert_eq!((few.p50_ms, few.p90_ms, few.p99_ms), (1.0, 9.0, 9.0));
    }

    #[test]
    fn no_samples_give_zeros() {
        assert_eq!(Samples::default().summary(), Latency::default());
        assert_eq!(percentile(&[], 99.0), 0.0);
        assert_eq!(percentile(&[1500], 0.0), 1.5);
    }
}
