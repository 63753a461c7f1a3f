//! The process manager's loop for one checkout: **record first, then send**.
//!
//! # Invariants
//! 1. Every input (an observed event, a step's answer, the deadline) is recorded in the
//!    checkout's stream by the generic [`CommandHandler`] with a deterministic command id
//!    (`docs/checkout.md`), so a redelivered message, a re-sent step's answer or a re-fired
//!    deadline is recorded at most once, and the stream is appended with expected versions: two
//!    replicas acting on one checkout serialize on it.
//! 2. What is sent is `pending(state)` of the state *as recorded*, never of anything held in
//!    memory. A crash anywhere loses nothing: the next delivery (or deadline) loads the stream,
//!    derives the same pending steps and sends them again with the same command ids, which the
//!    services answer from their logs without a second effect.
//! 3. A transient failure is not an answer: nothing is recorded for it, and the caller retries
//!    the whole input later (the consumer's message, the deadline's claim).

use std::sync::Arc;

use aggregates::{
    DomainError, OrderId,
    checkout::{
        Checkout, CheckoutCommand, CheckoutDetails, CheckoutState, Fact, Phase,
        deadline_command_id, pending, reply_command_id,
    },
};
use chrono::Utc;
use command::{AppError, CommandContext, CommandHandler};
use event_store::{Direction, EventStore};
use futures::future::join_all;
use rocketmq::{ConsumeOutcome, ReceivedMessage, decode_event};
use settings::CheckoutSettings;
use uuid::Uuid;

use crate::{
    deadlines::Deadlines,
    metrics::CheckoutMetrics,
    observe::{self, Input},
    send::{SUBJECT, Services, Transient},
};

/// Most rounds of send-and-record per input; a checkout needs about ten, so more means a bug.
const MAX_ROUNDS: usize = 64;
/// Most due deadlines one replica claims per poll.
const CLAIM_BATCH: i64 = 32;

/// Why an input could not be handled now (retried later).
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// A step's service or the provider did not answer.
    #[error(transparent)]
    Step(#[from] Transient),
    /// The checkout's stream could not be read or appended.
    #[error("checkout stream: {0}")]
    Stream(#[from] AppError),
    /// The deadline table could not be used.
    #[error("deadline table: {0}")]
    Deadlines(#[from] sqlx::Error),
}

/// The process manager: records inputs and drives checkouts.
pub struct Manager {
    handler: CommandHandler<Checkout>,
    store: EventStore,
    services: Services,
    deadlines: Deadlines,
    metrics: CheckoutMetrics,
    settings: CheckoutSettings,
}

impl Manager {
    /// A manager over `store`, sending with `services`.
    pub fn new(
        store: EventStore,
        services: Services,
        metrics: CheckoutMetrics,
        settings: CheckoutSettings,
        max_attempts: u32,
    ) -> Self {
        Self {
            handler: CommandHandler::new(store.clone(), max_attempts),
            deadlines: Deadlines::new(store.pool().clone()),
            store,
            services,
            metrics,
            settings,
        }
    }

    /// The deadline table.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// Handles a batch of consecutive messages of one queue: their inputs grouped by checkout,
    /// each checkout's in order, different checkouts concurrently. Done once every input is
    /// recorded and driven; otherwise the whole batch comes again (recording is idempotent).
    pub async fn handle_messages(&self, messages: &[ReceivedMessage]) -> ConsumeOutcome {
        let mut groups: Vec<(OrderId, Vec<(Input, Uuid)>)> = Vec::new();
        for message in messages {
            let event = match decode_event(message) {
                Ok(event) => event,
                Err(error) => {
                    self.metrics.undecodable.inc();
                    tracing::error!(%error, "skipping a message that is not an event");
                    continue;
                }
            };
            let input = match observe::input(&event, self.settings.deadline()) {
                Ok(Some(input)) => input,
                Ok(None) => continue,
                Err(error) => {
                    self.metrics.undecodable.inc();
                    tracing::error!(%error, "skipping an event that does not decode");
                    continue;
                }
            };
            let correlation = event.metadata.correlation_id.unwrap_or(input.order_id.0);
            match groups.iter_mut().find(|(id, _)| *id == input.order_id) {
                Some((_, inputs)) => inputs.push((input, correlation)),
                None => groups.push((input.order_id, vec![(input, correlation)])),
            }
        }
        let handled = join_all(groups.into_iter().map(|(_, inputs)| async move {
            for (input, correlation) in inputs {
                self.handle(input, correlation).await?;
            }
            Ok::<(), ManagerError>(())
        }))
        .await;
        let mut outcome = ConsumeOutcome::Done;
        for result in handled {
            if let Err(error) = result {
                tracing::warn!(%error, "checkout input not handled; the batch comes again");
                outcome = ConsumeOutcome::RetryLater;
            }
        }
        outcome
    }

    /// Records `input` and drives its checkout until nothing is pending.
    #[tracing::instrument(skip_all, fields(order_id = %input.order_id))]
    pub async fn handle(&self, input: Input, correlation_id: Uuid) -> Result<(), ManagerError> {
        if self
            .record(
                input.order_id,
                input.command,
                input.command_id,
                correlation_id,
            )
            .await?
        {
            self.drive(input.order_id, correlation_id).await?;
        }
        Ok(())
    }

    /// Records `command` in checkout `order_id`'s stream under `command_id`. False when there is
    /// no such checkout (an order or payment not bought through `Checkout`) or the input is
    /// refused as malformed (logged; retrying cannot help).
    async fn record(
        &self,
        order_id: OrderId,
        command: CheckoutCommand,
        command_id: Uuid,
        correlation_id: Uuid,
    ) -> Result<bool, ManagerError> {
        let context = CommandContext {
            command_id,
            correlation_id,
            actor: SUBJECT.to_owned(),
            traceparent: None,
            fingerprint: None,
        };
        self.metrics.inputs.inc();
        match self.handler.execute(&context, &order_id, command).await {
            Ok(_) => Ok(true),
            Err(AppError::Domain(DomainError::NotCreated { .. })) => Ok(false),
            Err(AppError::Domain(error)) => {
                tracing::error!(%error, %order_id, "checkout input refused");
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Sends what checkout `order_id` has pending and records the answers, round after round,
    /// until nothing is pending. Keeps the deadline table in step with the checkout's phase.
    pub async fn drive(&self, order_id: OrderId, correlation_id: Uuid) -> Result<(), ManagerError> {
        let mut deadline_set = false;
        for _ in 0..MAX_ROUNDS {
            let loaded = self.handler.load(&order_id).await?;
            let CheckoutState::Started(checkout) = loaded.state else {
                return Ok(());
            };
            if !deadline_set && has_deadline(&checkout.phase) {
                self.deadlines.set(order_id, checkout.deadline).await?;
                deadline_set = true;
            }
            let steps = pending(&checkout);
            if steps.is_empty() {
                if !has_deadline(&checkout.phase) {
                    self.deadlines.clear(order_id).await?;
                }
                return Ok(());
            }
            self.send_all(&checkout, steps, correlation_id).await?;
        }
        tracing::error!(%order_id, "checkout did not settle within {MAX_ROUNDS} rounds");
        Ok(())
    }

    /// Sends `steps` concurrently and records every answer; a transient failure of any is
    /// returned after the others' answers are recorded.
    async fn send_all(
        &self,
        checkout: &CheckoutDetails,
        steps: Vec<aggregates::checkout::Step>,
        correlation_id: Uuid,
    ) -> Result<(), ManagerError> {
        let order_id = checkout.order_id;
        let answers = join_all(
            steps
                .iter()
                .map(|step| self.services.send(checkout, *step, correlation_id)),
        )
        .await;
        let mut failed = None;
        for (step, answer) in steps.into_iter().zip(answers) {
            match answer {
                Ok(outcome) => {
                    self.metrics.steps_answered.inc();
                    let command = CheckoutCommand::Replied {
                        step,
                        outcome,
                        at: Utc::now(),
                    };
                    let id = reply_command_id(order_id, &step);
                    self.record(order_id, command, id, correlation_id).await?;
                }
                Err(error) => {
                    self.metrics.step_retries.inc();
                    failed = Some(error);
                }
            }
        }
        failed.map_or(Ok(()), |error| Err(error.into()))
    }

    /// Fires checkout `order_id`'s deadline: records that it passed and drives the checkout
    /// (compensation, or nothing when it was paid meanwhile).
    pub async fn fire_deadline(&self, order_id: OrderId) -> Result<(), ManagerError> {
        self.metrics.deadlines_fired.inc();
        let correlation = self.correlation(order_id).await?;
        let input = Input {
            order_id,
            command: CheckoutCommand::Notice {
                fact: Fact::DeadlinePassed,
                at: Utc::now(),
            },
            command_id: deadline_command_id(order_id),
        };
        if !self
            .record(input.order_id, input.command, input.command_id, correlation)
            .await?
        {
            // No checkout behind the row (it was never started): nothing to wait for.
            self.deadlines.clear(order_id).await?;
            return Ok(());
        }
        self.drive(order_id, correlation).await
    }

    /// The correlation id the checkout started under (that of the customer's `Checkout` call).
    async fn correlation(&self, order_id: OrderId) -> Result<Uuid, ManagerError> {
        let stream = CommandHandler::<Checkout>::stream_id(&order_id)?;
        let first = self
            .store
            .read_stream(&stream, Direction::Forward, 0, 1)
            .await
            .map_err(AppError::from)?;
        Ok(first
            .first()
            .and_then(|event| event.metadata.correlation_id)
            .unwrap_or(order_id.0))
    }

    /// Claims due deadlines and fires them, concurrently; refreshes the stuck gauge.
    pub async fn poll_deadlines(&self) -> Result<usize, ManagerError> {
        let due = self
            .deadlines
            .claim_due(CLAIM_BATCH, self.settings.deadline_claim())
            .await?;
        let count = due.len();
        let fired = join_all(due.into_iter().map(|order_id| self.fire_deadline(order_id))).await;
        for result in fired {
            if let Err(error) = result {
                tracing::warn!(%error, "deadline not handled; retried when its claim ends");
            }
        }
        let stuck = self
            .deadlines
            .count_stuck(self.settings.stuck_after())
            .await?;
        self.metrics.stuck.set(stuck);
        Ok(count)
    }
}

/// Whether a checkout in `phase` waits on its deadline (unpaid and not final).
fn has_deadline(phase: &Phase) -> bool {
    matches!(phase, Phase::Running | Phase::Compensating { .. })
}

/// Polls the deadline table every `checkout.deadline_poll_ms` until the task is aborted.
pub async fn poll_deadlines(manager: Arc<Manager>) {
    let mut ticks = tokio::time::interval(manager.settings.deadline_poll());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = manager.poll_deadlines().await {
            tracing::warn!(%error, "could not poll checkout deadlines");
        }
    }
}
