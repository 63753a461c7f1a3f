//! Percentiles and medians.

use std::time::Duration;

/// Nearest-rank percentile of sorted `xs`.
fn percentile(xs: &[Duration], p: f64) -> Duration {
    if xs.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p99 and max, in ms.
pub struct Spread {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut xs: Vec<Duration>) -> Self {
        xs.sort_unstable();
        Self {
            p50: ms(percentile(&xs, 0.50)),
            p99: ms(percentile(&xs, 0.99)),
            max: ms(xs.last().copied().unwrap_or_default()),
        }
    }
}
