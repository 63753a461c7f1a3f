//! The pump's invariant with an in-memory publisher that fails on purpose.

use std::sync::{Arc, Mutex};

use event_store::{EventMetadata, StreamId};
use uuid::Uuid;

use super::*;

/// What happened, in order: attempts, acknowledged publishes and checkpoint writes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Failed,
    Published(Vec<(String, u64)>),
    Checkpoint(AllPosition),
}

type Journal = Arc<Mutex<Vec<Step>>>;

#[derive(Debug, thiserror::Error)]
#[error("broker unavailable")]
struct Unavailable;

/// Fails `failures_left` times, then acknowledges everything.
struct FlakyPublisher {
    failures_left: u32,
    journal: Journal,
}

impl Publisher for FlakyPublisher {
    type Error = Unavailable;

    async fn publish(&mut self, events: &[RecordedEvent]) -> Result<(), Unavailable> {
        if self.failures_left > 0 {
            self.failures_left -= 1;
            self.journal.lock().unwrap().push(Step::Failed);
            return Err(Unavailable);
        }
        let published = events
            .iter()
            .map(|e| (e.stream_id.to_string(), e.version))
            .collect();
        self.journal
            .lock()
            .unwrap()
            .push(Step::Published(published));
        Ok(())
    }
}

struct MemoryCheckpoints {
    at: AllPosition,
    journal: Journal,
}

impl CheckpointStore for MemoryCheckpoints {
    type Error = Unavailable;

    async fn load(&mut self) -> Result<AllPosition, Unavailable> {
        Ok(self.at)
    }

    async fn store(&mut self, at: AllPosition) -> Result<(), Unavailable> {
        self.at = at;
        self.journal.lock().unwrap().push(Step::Checkpoint(at));
        Ok(())
    }
}

fn event(stream: &str, version: u64, tx_id: u64, position: u64) -> RecordedEvent {
    RecordedEvent {
        position,
        tx_id,
        stream_id: StreamId::parse(stream).unwrap(),
        version,
        event_id: Uuid::new_v4(),
        event_type: "ItemAdded".to_owned(),
        schema_version: 1,
        data: serde_json::json!({}),
        metadata: EventMetadata::default(),
        recorded_at: chrono::Utc::now(),
    }
}

fn pump(failures: u32, journal: &Journal) -> Pump<FlakyPublisher, MemoryCheckpoints> {
    Pump::new(
        FlakyPublisher {
            failures_left: failures,
            journal: Arc::clone(journal),
        },
        MemoryCheckpoints {
            at: AllPosition::START,
            journal: Arc::clone(journal),
        },
        Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
        },
        RelayMetrics::default(),
    )
}

fn versions(events: &[RecordedEvent]) -> Vec<(String, u64)> {
    events
        .iter()
        .map(|e| (e.stream_id.to_string(), e.version))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_fails_k_times_is_published_whole_in_order_before_its_checkpoint() {
    let journal = Journal::default();
    let mut pump = pump(3, &journal);
    let first = vec![
        event("cart-1", 0, 10, 1),
        event("cart-2", 0, 10, 2),
        event("cart-1", 1, 11, 3),
    ];
    let second = vec![event("cart-2", 1, 12, 4), event("cart-1", 2, 13, 5)];

    assert_eq!(pump.process(&first).await, Some(first[2].all_position()));
    assert_eq!(pump.process(&second).await, Some(second[1].all_position()));

    let expected = vec![
        Step::Failed,
        Step::Failed,
        Step::Failed,
        Step::Published(versions(&first)),
        Step::Checkpoint(first[2].all_position()),
        Step::Published(versions(&second)),
        Step::Checkpoint(second[1].all_position()),
    ];
    assert_eq!(*journal.lock().unwrap(), expected);
    assert_eq!(pump.metrics.send_failures.get(), 3);
    assert_eq!(pump.metrics.published_events.get(), 5);
    assert_eq!(
        pump.checkpoints.load().await.unwrap(),
        second[1].all_position()
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_never_succeeds_never_moves_the_checkpoint() {
    let journal = Journal::default();
    let mut pump = pump(u32::MAX, &journal);
    let batch = vec![event("order-1", 0, 10, 1)];
    let outcome = tokio::time::timeout(Duration::from_secs(60), pump.process(&batch)).await;
    assert!(outcome.is_err(), "a failing batch must keep being retried");
    let journal = journal.lock().unwrap();
    assert!(journal.len() > 3, "retried: {journal:?}");
    assert!(journal.iter().all(|step| *step == Step::Failed));
    assert_eq!(pump.checkpoints.at, AllPosition::START);
}

#[test]
fn backoff_grows_to_its_cap_with_at_most_half_jitter() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(1_000),
    };
    let first = backoff.delay(1);
    assert!(first <= Duration::from_millis(100) && first >= Duration::from_millis(50));
    let late = backoff.delay(30);
    assert!(late <= Duration::from_millis(1_000) && late >= Duration::from_millis(500));
}
