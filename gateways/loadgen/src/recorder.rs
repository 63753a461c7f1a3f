//! The tally every flow of a run writes into (behind one mutex, held only to add a number) and
//! that becomes the [`Report`] at the end.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use crate::{
    config::Flow,
    error::{ErrorKind, Failure},
    report::{Acknowledged, ErrorCount, FlowReport, OutcomeCount, Purchases, Report},
    stats::Samples,
};

/// How a flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It did what it meant to.
    Ok,
    /// The shop refused it for a reason a healthy shop gives (the outcome's name).
    Expected(String),
    /// It failed.
    Failed(Failure),
}

/// How a followed purchase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseEnd {
    /// Completed, after `settle`.
    Completed(Duration),
    /// Cancelled for an expected reason, after `settle`.
    Cancelled(String, Duration),
    /// Ended otherwise, or not within the settle timeout.
    Failed(Failure),
    /// The run stopped while it was followed.
    Unfollowed,
}

#[derive(Default)]
struct Tally {
    flows: BTreeMap<Flow, (FlowReport, Samples)>,
    expected: BTreeMap<(Flow, String), u64>,
    errors: BTreeMap<(Flow, ErrorKind, String), u64>,
    requests: u64,
    purchases: Purchases,
    settle: Samples,
    late_starts: u64,
    max_start_delay: Duration,
    abandoned: u64,
    acknowledged: Vec<Acknowledged>,
}

/// A run's tally.
pub struct Recorder {
    tolerate: Vec<ErrorKind>,
    tally: Mutex<Tally>,
}

impl Recorder {
    /// An empty tally of a run tolerating `tolerate`.
    pub fn new(tolerate: Vec<ErrorKind>) -> Self {
        Self {
            tolerate,
            tally: Mutex::default(),
        }
    }

    fn tally(&self) -> MutexGuard<'_, Tally> {
        // A panic elsewhere while holding the lock only interrupted an addition.
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One request was sent.
    pub fn request(&self) {
        self.tally().requests += 1;
    }

    /// The timed phase starts: requests are counted from zero (the setup's are not load).
    pub fn begin_timed(&self) {
        self.tally().requests = 0;
    }

    /// The shop acknowledged a command.
    pub fn acknowledged(&self, acknowledged: Acknowledged) {
        self.tally().acknowledged.push(acknowledged);
    }

    /// A flow ended after `latency`.
    pub fn finished(&self, flow: Flow, ended: Ended, latency: Duration) {
        let mut tally = self.tally();
        let (line, samples) = tally.flows.entry(flow).or_default();
        line.count += 1;
        match ended {
            Ended::Ok => {
                line.ok += 1;
                samples.record(latency);
            }
            Ended::Expected(outcome) => {
                line.expected += 1;
                samples.record(latency);
                *tally.expected.entry((flow, outcome)).or_default() += 1;
            }
            Ended::Failed(failure) => {
                line.errors += 1;
                *tally
                    .errors
                    .entry((flow, failure.kind, failure.reason))
                    .or_default() += 1;
            }
        }
    }

    /// An expected outcome inside a flow that went on (a conflict that was retried).
    pub fn expected_along_the_way(&self, flow: Flow, outcome: &str) {
        *self
            .tally()
            .expected
            .entry((flow, outcome.to_owned()))
            .or_default() += 1;
    }

    /// `Checkout` was acknowledged.
    pub fn purchase_placed(&self) {
        self.tally().purchases.placed += 1;
    }

    /// A followed purchase ended.
    pub fn purchase_ended(&self, end: PurchaseEnd) {
        let mut tally = self.tally();
        match end {
            PurchaseEnd::Completed(settle) => {
                tally.purchases.completed += 1;
                tally.settle.record(settle);
            }
            PurchaseEnd::Cancelled(reason, settle) => {
                *tally.purchases.cancelled.entry(reason).or_default() += 1;
                tally.settle.record(settle);
            }
            PurchaseEnd::Failed(failure) => {
                tally.purchases.failed += 1;
                *tally
                    .errors
                    .entry((Flow::Checkout, failure.kind, failure.reason))
                    .or_default() += 1;
            }
            PurchaseEnd::Unfollowed => tally.purchases.unfollowed += 1,
        }
    }

    /// An open-loop flow started `delay` behind its schedule; `late` if past the threshold.
    pub fn started(&self, delay: Duration, late: bool) {
        let mut tally = self.tally();
        tally.max_start_delay = tally.max_start_delay.max(delay);
        tally.late_starts += u64::from(late);
    }

    /// `count` flows were abandoned at the end of the drain.
    pub fn abandoned(&self, count: u64) {
        self.tally().abandoned += count;
    }

    /// The report of the run so far.
    pub fn report(&self, run: RunFacts) -> Report {
        let tally = self.tally();
        let elapsed = run.elapsed.as_secs_f64().max(f64::EPSILON);
        let flows: BTreeMap<Flow, FlowReport> = tally
            .flows
            .iter()
            .map(|(flow, (line, samples))| {
                let mut line = line.clone();
                line.latency = samples.summary();
                (*flow, line)
            })
            .collect();
        let finished: u64 = flows.values().map(|line| line.count).sum();
        let errors: Vec<ErrorCount> = tally
            .errors
            .iter()
            .map(|((flow, kind, reason), count)| ErrorCount {
                flow: *flow,
                kind: *kind,
                reason: reason.clone(),
                count: *count,
                tolerated: self.tolerate.contains(kind),
            })
            .collect();
        let (tolerated, unexpected) = errors.iter().fold((0, 0), |(t, u), line| {
            if line.tolerated {
                (t + line.count, u)
            } else {
                (t, u + line.count)
            }
        });
        let mut purchases = tally.purchases.clone();
        purchases.settle = tally.settle.summary();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        Report {
            mode: if run.rate.is_some() { "open" } else { "closed" },
            users: run.users,
            offered_rate: run.rate,
            setup_secs: run.setup.as_secs_f64(),
            elapsed_secs: run.elapsed.as_secs_f64(),
            requests: tally.requests,
            requests_per_sec: tally.requests as f64 / elapsed,
            flows_per_sec: finished as f64 / elapsed,
            flows,
            expected: tally
                .expected
                .iter()
                .map(|((flow, outcome), count)| OutcomeCount {
                    flow: *flow,
                    outcome: outcome.clone(),
                    count: *count,
                })
                .collect(),
            errors,
            purchases,
            late_starts: tally.late_starts,
            max_start_delay_ms: tally.max_start_delay.as_secs_f64() * 1_000.0,
            abandoned: tally.abandoned,
            unexpected,
            tolerated,
            acknowledged: tally.acknowledged.clone(),
        }
    }
}

/// Facts of a run the tally does not hold.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts {
    /// Virtual customers.
    pub users: usize,
    /// Offered rate (open loop).
    pub rate: Option<f64>,
    /// Setup phase duration.
    pub setup: Duration,
    /// Timed phase duration.
    pub elapsed: Duration,
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn facts() -> RunFacts {
        RunFacts {
            users: 2,
            rate: None,
            setup: Duration::from_secs(1),
            elapsed: Duration::from_secs(10),
        }
    }

    #[test]
    fn only_untolerated_errors_are_unexpected() {
        let recorder = Recorder::new(vec![ErrorKind::grpc(Code::Unavailable)]);
        let unavailable = Failure::new(ErrorKind::grpc(Code::Unavailable), "down");
        let internal = Failure::new(ErrorKind::grpc(Code::Internal), "internal error");
        recorder.finished(
            Flow::AddToCart,
            Ended::Failed(unavailable.clone()),
            Duration::ZERO,
        );
        recorder.finished(Flow::AddToCart, Ended::Failed(unavailable), Duration::ZERO);
        recorder.finished(Flow::Checkout, Ended::Failed(internal), Duration::ZERO);
        let report = recorder.report(facts());
        assert_eq!((report.tolerated, report.unexpected), (2, 1));
        assert!(!report.passed());
        assert_eq!(report.errors.len(), 2);
        assert_eq!(report.errors[0].count, 2);
        assert!(report.errors[0].tolerated);
    }

    #[test]
    fn expected_outcomes_count_apart_from_errors_and_keep_their_latency() {
        let recorder = Recorder::new(Vec::new());
        recorder.finished(Flow::AddToCart, Ended::Ok, Duration::from_millis(4));
        recorder.finished(
            Flow::AddToCart,
            Ended::Expected("out of stock".into()),
            Duration::from_millis(8),
        );
        recorder.expected_along_the_way(Flow::Checkout, "conflict, retried");
        let report = recorder.report(facts());
        assert!(report.passed());
        let line = &report.flows[&Flow::AddToCart];
        assert_eq!(
            (line.count, line.ok, line.expected, line.errors),
            (2, 1, 1, 0)
        );
        assert_eq!(line.latency.max_ms, 8.0);
        assert_eq!(report.expected.len(), 2);
        assert!((report.flows_per_sec - 0.2).abs() < 1e-9);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["flows"]["add_to_cart"]["count"], 2);
        assert_eq!(json["flows"]["add_to_cart"]["latency"]["max_ms"], 8.0);
    }

    #[test]
    fn purchases_count_by_ending_and_a_failed_one_is_an_error() {
        let recorder = Recorder::new(Vec::new());
        recorder.purchase_placed();
        recorder.purchase_placed();
        recorder.purchase_placed();
        recorder.purchase_ended(PurchaseEnd::Completed(Duration::from_millis(600)));
        recorder.purchase_ended(PurchaseEnd::Cancelled(
            "out of stock".into(),
            Duration::from_millis(300),
        ));
        recorder.purchase_ended(PurchaseEnd::Failed(Failure::new(
            ErrorKind::Unsettled,
            "not final",
        )));
        let report = recorder.report(facts());
        assert_eq!(report.purchases.placed, 3);
        assert_eq!(report.purchases.completed, 1);
        assert_eq!(report.purchases.cancelled["out of stock"], 1);
        assert_eq!(report.purchases.settle.max_ms, 600.0);
        assert_eq!(report.unexpected, 1);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["errors"][0]["kind"], "purchase unsettled");
        assert!(report.to_string().contains("FAIL"));
    }
}
