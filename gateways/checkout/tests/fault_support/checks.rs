//! What must hold once a fault is over: every acknowledged command has its events in the log,
//! every checkout the load started settles (none stays stuck), and every read model equals a
//! rebuild from the log (`commerce-projections verify all`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aggregates::{OrderId, checkout::Phase};
use checkout::testing::{Stack, poll_until};
use sqlx::PgPool;
use tokio::time::Instant;
use uuid::Uuid;

use super::load::Acknowledged;

/// The acknowledged commands the log does not bear out, one line each.
///
/// A reply names a stream, a version and a position. A command that appended events is borne out
/// when the event at that position is that stream's version and carries the command's id. A
/// command that changed nothing (an empty cart cleared again) appended nothing and was answered
/// with the stream's current version and the position of its last event (invariant 4 of
/// `gateways/command/src/handler.rs`): it is borne out when that event is there and no event
/// anywhere carries the command's id. Anything else — no event at that position, another
/// stream's or version's, or the command's events somewhere other than the reply said — is a
/// lost or misreported write.
pub async fn lost_writes(pool: &PgPool, acknowledged: &[Acknowledged]) -> Vec<String> {
    let ids: Vec<String> = acknowledged
        .iter()
        .map(|ack| ack.command_id.to_string())
        .collect();
    let streams: Vec<&str> = acknowledged
        .iter()
        .map(|ack| ack.stream_id.as_str())
        .collect();
    let versions: Vec<i64> = acknowledged
        .iter()
        .map(|ack| i64::try_from(ack.version).expect("a version fits i64"))
        .collect();
    let positions: Vec<i64> = acknowledged
        .iter()
        .map(|ack| i64::try_from(ack.position).expect("a position fits i64"))
        .collect();
    let missing: Vec<(i64,)> = sqlx::query_as(
        "SELECT a.n FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) \
             WITH ORDINALITY AS a(command_id, stream_id, version, position, n) \
         WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.position = a.position \
             AND e.stream_id = a.stream_id AND e.stream_version = a.version \
             AND (e.metadata ->> 'command_id' = a.command_id \
                  OR NOT EXISTS (SELECT 1 FROM events own \
                      WHERE own.metadata ->> 'command_id' = a.command_id)))",
    )
    .bind(&ids)
    .bind(&streams)
    .bind(&versions)
    .bind(&positions)
    .fetch_all(pool)
    .await
    .expect("look the acknowledged commands up in the log");
    missing
        .into_iter()
        .map(|(n,)| {
            let ack = &acknowledged[usize::try_from(n - 1).expect("an ordinality from 1")];
            format!(
                "{} {}: acknowledged as {} version {} at position {}, not in the log",
                ack.command, ack.command_id, ack.stream_id, ack.version, ack.position
            )
        })
        .collect()
}

/// The orders the load's acknowledged `Checkout` commands placed.
pub fn orders_placed(acknowledged: &[Acknowledged]) -> Vec<OrderId> {
    acknowledged
        .iter()
        .filter(|ack| ack.command == "OrderCommands.Checkout")
        .map(|ack| {
            let id = ack
                .stream_id
                .strip_prefix("order-")
                .and_then(|id| Uuid::parse_str(id).ok())
                .unwrap_or_else(|| panic!("Checkout answered stream {}", ack.stream_id));
            OrderId(id)
        })
        .collect()
}

/// How the purchases ended: `(completed, cancelled)`, and the stuck ones with their phase.
/// Stuck is what the product calls stuck (`commerce-checkout stuck`, docs/checkout.md): not
/// settled (completed or final) `stuck_after` past its deadline, the deadline being `deadline`
/// after the order was placed. A purchase placed while the broker was down waits for it and
/// then for the backlog before it is even started: it may settle late, by its deadline's
/// compensation, and is stuck only if it has not by then.
pub async fn settle(
    stack: &Stack,
    orders: &[OrderId],
    deadline: Duration,
    stuck_after: Duration,
) -> (usize, usize, Vec<String>) {
    let (mut completed, mut cancelled, mut stuck) = (0, 0, Vec::new());
    for order in orders {
        // How long until this purchase would be stuck, by the database's clock.
        let left: f64 = sqlx::query_scalar(
            "SELECT extract(epoch FROM (min(recorded_at) + make_interval(secs => $2) - now()))::float8 \
             FROM events WHERE stream_id = $1 AND event_type = 'OrderPlaced'",
        )
        .bind(format!("order-{order}"))
        .bind((deadline + stuck_after).as_secs_f64())
        .fetch_one(&stack.db.pool)
        .await
        .expect("the order's placement in the log");
        let due = Instant::now() + Duration::from_secs_f64(left.max(0.0));
        let settled = poll_until(due, || async move {
            stack
                .checkout_state(*order)
                .await
                .filter(|details| details.phase.is_final() || details.phase == Phase::Completed)
        })
        .await;
        match settled.map(|details| details.phase) {
            Some(Phase::Completed) => completed += 1,
            Some(_) => cancelled += 1,
            None => stuck.push(match stack.checkout_state(*order).await {
                Some(details) => format!(
                    "checkout-{order}: {} {stuck_after:?} past its deadline {}, steps done {:?}, \
                     refused {:?}, pending {:?}, deadline passed {}",
                    details.phase.name(),
                    details.deadline,
                    details.succeeded,
                    details.refused,
                    aggregates::checkout::pending(&details),
                    details.deadline_passed
                ),
                None => format!(
                    "checkout-{order}: never started {stuck_after:?} past its deadline (order \
                     placed)"
                ),
            }),
        }
    }
    (completed, cancelled, stuck)
}

/// Waits (up to `within`) until every read model has applied the whole log, then runs
/// `commerce-projections verify all`: how long the catch-up took if it passes, else the lag or
/// verify's report.
pub async fn read_models_verify(stack: &Stack, within: Duration) -> Result<Duration, String> {
    let began = Instant::now();
    let deadline = began + within;
    let mut lagging = stack.lagging_read_models().await;
    while !lagging.is_empty() {
        if Instant::now() >= deadline {
            return Err(format!(
                "read models still behind the log after {within:?}: {lagging:?}"
            ));
        }
        tokio::time::sleep(event_store::testing::POLL_INTERVAL).await;
        lagging = stack.lagging_read_models().await;
    }
    let caught_up = began.elapsed();
    let output = stack.projections_cli(&["verify", "all"], &[]);
    if output.status.success() {
        return Ok(caught_up);
    }
    Err(format!(
        "verify all: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The differences verify's report counts (`<model>: N differences`), at least 1 for a failure.
pub fn divergences(report: &str) -> u64 {
    let counted: u64 = report
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(": ")?;
            rest.strip_suffix(" differences")
                .or_else(|| rest.split_once(" differences").map(|(n, _)| n))?
                .parse::<u64>()
                .ok()
        })
        .sum();
    counted.max(1)
}

/// The events of `categories` in the log that a consumer group starting now from the first
/// offset does not receive from the broker within `within`, one line each (at most 5, then a
/// count): events the broker lost or the relay never published. Their absence explains a
/// consumer that never saw them; the read models fill such holes from the log, the process
/// manager cannot.
pub async fn missing_from_broker(
    stack: &Stack,
    categories: &[&str],
    within: Duration,
) -> Vec<String> {
    use rocketmq::{
        BrokerClient, BrokerClientConfig, ConsumeOutcome, EventTopics, OrderlyConsumerConfig,
        ReceivedMessage,
    };
    let logged: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT event_id, stream_id, stream_version FROM events WHERE category = ANY($1)",
    )
    .bind(categories)
    .fetch_all(&stack.db.pool)
    .await
    .expect("read the log");
    let client = BrokerClient::new(BrokerClientConfig::new(stack.name_server())).expect("client");
    let topics = EventTopics::new(stack.topic_prefix());
    let received = Arc::new(Mutex::new(HashSet::<String>::new()));
    let sink = Arc::clone(&received);
    let consumer = client
        .start_orderly_consumer(
            OrderlyConsumerConfig::for_topics(
                format!("{}-audit-{}", stack.topic_prefix(), Uuid::new_v4().simple()),
                categories.iter().map(|category| topics.topic(category)),
            ),
            move |message: &ReceivedMessage| {
                sink.lock().unwrap().extend(message.keys.first().cloned());
                ConsumeOutcome::Done
            },
        )
        .await
        .expect("consumer starts");
    let missing = || {
        let received = received.lock().unwrap();
        logged
            .iter()
            .filter(|(id, _, _)| !received.contains(&id.to_string()))
            .map(|(id, stream, version)| format!("{stream} v{version} (event {id})"))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + within;
    while !missing().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut missing = missing();
    consumer.shutdown().await;
    let _ = client.shutdown().await;
    if missing.len() > 5 {
        let more = missing.len() - 5;
        missing.truncate(5);
        missing.push(format!("and {more} more"));
    }
    missing
}
