//! The causal chain of one correlation id: every event recorded under it, across streams, read
//! in log order over `events_correlation_idx` and arranged as a tree by causation.
//!
//! How causation is recorded (docs/audit.md): a command service records the command's id as
//! each event's `causation_id` (and `command_id`); the checkout process manager records what it
//! observes and the answers to its steps under command ids derived from them (UUIDv5, in
//! `aggregates::checkout`), and sends its steps under derived command ids too. So the parent of
//! an event is found by the first rule that holds, among the events before it in the log:
//!
//! 1. an earlier event of the same command: the event hangs where that one hangs;
//! 2. [`Link::Event`]: its causation id is that event's id;
//! 3. [`Link::Noticed`]: its causation id is `notice_command_id(that event's id)`;
//! 4. [`Link::Reply`]: its causation id is the reply id of that event's command id;
//! 5. [`Link::Step`]: its causation id is a step, reply or deadline command id of a checkout of
//!    the chain; the parent is that checkout's last event before it;
//! 6. otherwise it is a root ([`Link::Root`]): a client's command.
//!
//! A parent therefore always precedes its children in the log.

use std::collections::HashMap;

use aggregates::{
    Aggregate, Checkout, DomainEvent, ProductId,
    checkout::{CheckoutEvent, Step, deadline_command_id, notice_command_id, reply_command_id},
};
use event_store::{EVENT_COLUMNS, RecordedEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{AuditError, decode_all};

/// Most events of one chain returned; a longer chain is truncated to its first ones.
pub const MAX_CHAIN: usize = 2000;

/// How an event's parent caused it (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Caused from outside the chain.
    Root,
    /// Its causation id is the parent's event id.
    Event,
    /// The checkout recorded the parent event as a fact.
    Noticed,
    /// The checkout recorded the answer to the command that appended the parent.
    Reply,
    /// A checkout's step (or deadline) after the parent, that checkout's last event before it.
    Step,
}

impl Link {
    /// The wire name (`root`, `event`, `noticed`, `reply`, `step`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Event => "event",
            Self::Noticed => "noticed",
            Self::Reply => "reply",
            Self::Step => "step",
        }
    }
}

/// One event placed in the tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainNode {
    /// The event.
    pub event: RecordedEvent,
    /// 0 for a root.
    pub depth: u32,
    /// The parent's event id; `None` for a root.
    pub parent_event_id: Option<Uuid>,
    /// How the parent caused it.
    pub link: Link,
}

/// A correlation id's events as a tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chain {
    /// The correlation id asked for.
    pub correlation_id: Uuid,
    /// Depth first: each node followed by its children, children and roots in log order.
    pub nodes: Vec<ChainNode>,
    /// The streams touched, in the order they were first touched.
    pub streams: Vec<String>,
    /// Whether the chain had more than [`MAX_CHAIN`] events (only the first are here).
    pub truncated: bool,
}

/// The chain of `correlation_id`; [`AuditError::NotFound`] when no event carries it.
pub async fn causal_chain(
    conn: &mut PgConnection,
    correlation_id: Uuid,
) -> Result<Chain, AuditError> {
    let sql = sql();
    let rows = sqlx::query(&sql)
        .bind(correlation_id.hyphenated().to_string())
        .bind(MAX_CHAIN as i64 + 1)
        .fetch_all(conn)
        .await?;
    let mut events = decode_all(&rows)?;
    if events.is_empty() {
        return Err(AuditError::NotFound(format!(
            "no event has correlation id {correlation_id}"
        )));
    }
    let truncated = events.len() > MAX_CHAIN;
    events.truncate(MAX_CHAIN);
    let mut streams: Vec<String> = Vec::new();
    for event in &events {
        if !streams.iter().any(|s| s == event.stream_id.as_str()) {
            streams.push(event.stream_id.to_string());
        }
    }
    Ok(Chain {
        correlation_id,
        nodes: arrange(events),
        streams,
        truncated,
    })
}

/// The statement: `$1` the correlation id (hyphenated), `$2` the most events (public for the
/// plan tests).
pub fn sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE metadata ->> 'correlation_id' = $1 \
         ORDER BY position LIMIT $2"
    )
}

/// The reply id of a command: what `aggregates::checkout::reply_command_id` derives from a
/// step's command id (a unit test keeps the two in step).
fn reply_id(command_id: Uuid) -> Uuid {
    Uuid::new_v5(&command_id, b"reply")
}

/// Arranges `events` (in log order) as a tree, depth first.
pub fn arrange(events: Vec<RecordedEvent>) -> Vec<ChainNode> {
    let mut by_event: HashMap<Uuid, usize> = HashMap::new();
    let mut by_notice: HashMap<Uuid, usize> = HashMap::new();
    let mut first_of_command: HashMap<Uuid, usize> = HashMap::new();
    let mut by_reply: HashMap<Uuid, usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        by_event.entry(event.event_id).or_insert(index);
        by_notice
            .entry(notice_command_id(event.event_id))
            .or_insert(index);
        if let Some(command) = event.metadata.command_id {
            first_of_command.entry(command).or_insert(index);
            by_reply.entry(reply_id(command)).or_insert(index);
        }
    }
    let steps = checkout_commands(&events);

    let mut parents: Vec<(Option<usize>, Link)> = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let earlier = |found: Option<&usize>| found.copied().filter(|&at| at < index);
        let same_command = event
            .metadata
            .command_id
            .and_then(|command| earlier(first_of_command.get(&command)));
        let parent = match (same_command, event.metadata.causation_id) {
            (Some(first), _) => parents[first],
            (None, None) => (None, Link::Root),
            (None, Some(cause)) => {
                if let Some(at) = earlier(by_event.get(&cause)) {
                    (Some(at), Link::Event)
                } else if let Some(at) = earlier(by_notice.get(&cause)) {
                    (Some(at), Link::Noticed)
                } else if let Some(at) = earlier(by_reply.get(&cause)) {
                    (Some(at), Link::Reply)
                } else if let Some(at) = steps
                    .get(&cause)
                    .and_then(|stream| last_before(&events, stream, index))
                {
                    (Some(at), Link::Step)
                } else {
                    (None, Link::Root)
                }
            }
        };
        parents.push(parent);
    }

    let mut children: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    let mut roots = Vec::new();
    for (index, (parent, _)) in parents.iter().enumerate() {
        match parent {
            Some(parent) => children[*parent].push(index),
            None => roots.push(index),
        }
    }
    let mut order = Vec::with_capacity(events.len());
    let mut stack: Vec<(usize, u32)> = roots.iter().rev().map(|&root| (root, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        order.push((index, depth));
        stack.extend(
            children[index]
                .iter()
                .rev()
                .map(|&child| (child, depth + 1)),
        );
    }
    let ids: Vec<Uuid> = events.iter().map(|event| event.event_id).collect();
    let mut slots: Vec<Option<RecordedEvent>> = events.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|(index, depth)| {
            let (parent, link) = parents[index];
            ChainNode {
                event: slots[index].take().expect("each event is placed once"),
                depth,
                parent_event_id: parent.map(|parent| ids[parent]),
                link,
            }
        })
        .collect()
}

/// The last event of `stream` before `index`.
fn last_before(events: &[RecordedEvent], stream: &str, index: usize) -> Option<usize> {
    events[..index]
        .iter()
        .rposition(|event| event.stream_id.as_str() == stream)
}

/// Every command id a checkout of the chain sends or records its answers under (its steps, the
/// replies to them, its deadline), mapped to the checkout's stream.
fn checkout_commands(events: &[RecordedEvent]) -> HashMap<Uuid, String> {
    let mut commands = HashMap::new();
    for event in events {
        if event.stream_id.category() != Checkout::CATEGORY {
            continue;
        }
        let Ok(CheckoutEvent::CheckoutStarted {
            order_id, products, ..
        }) = CheckoutEvent::from_stored(&event.event_type, event.schema_version, &event.data)
        else {
            continue;
        };
        let stream = event.stream_id.to_string();
        let products: Vec<ProductId> = products.iter().map(|p| p.product_id).collect();
        for step in every_step(&products) {
            commands.insert(step.command_id(order_id), stream.clone());
            commands.insert(reply_command_id(order_id, &step), stream.clone());
        }
        commands.insert(deadline_command_id(order_id), stream);
    }
    commands
}

/// Every step a checkout of `products` can send.
fn every_step(products: &[ProductId]) -> Vec<Step> {
    let mut steps = vec![
        Step::ConfirmOrder,
        Step::InitiatePayment,
        Step::DebitBalance,
        Step::Capture,
        Step::Charge,
        Step::MarkPaid,
        Step::ClearCart,
        Step::FailPayment,
        Step::CreditBalance,
        Step::RefundPayment,
        Step::ProviderRefund,
        Step::CancelOrder,
    ];
    for &product_id in products {
        steps.extend([
            Step::Reserve { product_id },
            Step::Commit { product_id },
            Step::Release { product_id },
            Step::Return { product_id },
        ]);
    }
    steps
}

/// Fails to compile when a step is added without being listed in [`every_step`].
#[allow(dead_code)]
fn every_step_is_listed(step: Step) {
    match step {
        Step::Reserve { .. }
        | Step::Commit { .. }
        | Step::Release { .. }
        | Step::Return { .. }
        | Step::ConfirmOrder
        | Step::InitiatePayment
        | Step::DebitBalance
        | Step::Capture
        | Step::Charge
        | Step::MarkPaid
        | Step::ClearCart
        | Step::FailPayment
        | Step::CreditBalance
        | Step::RefundPayment
        | Step::ProviderRefund
        | Step::CancelOrder => {}
    }
}
