//! Playing outcomes: after its delay, a charge is settled and its callbacks built (the final
//! event, and with `out_of_order` a `charge.pending` created first but sent after it), then each
//! is delivered — signed with the signing secret, POSTed to our webhook, retried with doubling
//! backoff until a `2xx` or the last try, every attempt recorded in the [`Books`]. With
//! `duplicate`, each callback is delivered a second time with the same body and signature.
//!
//! Outcomes run as background tasks ([`Tasks`]); stopping the simulator aborts those in flight.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::http::header::CONTENT_TYPE;
use reqwest::{Client, Url};
use settings::{ExposeSecret, SecretString};
use tokio::task::JoinSet;
use uuid::Uuid;
use webhook::{Event, EventData, EventType, SIGNATURE_HEADER};

use crate::{
    books::{Books, Charge, Delivery, Outcome, Refund, Script, Status},
    config::RetryPolicy,
};

/// Now, Unix seconds.
pub fn unix_now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Sends callbacks to our webhook and records each try. Cheap to clone.
#[derive(Clone)]
pub struct Courier {
    client: Client,
    url: Url,
    secret: Arc<SecretString>,
    retry: RetryPolicy,
    books: Arc<Books>,
}

impl Courier {
    /// A courier to `url`, signing with `secret`, retrying by `retry`, recording in `books`.
    pub fn new(
        url: Url,
        secret: SecretString,
        retry: RetryPolicy,
        books: Arc<Books>,
    ) -> Result<Self, reqwest::Error> {
        let client = Client::builder()
            .timeout(retry.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            url,
            secret: Arc::new(secret),
            retry,
            books,
        })
    }

    /// The `Commerce-Signature` of `body` now.
    fn sign(&self, body: &[u8]) -> String {
        webhook::sign(self.secret.expose_secret().as_bytes(), unix_now(), body)
    }

    /// Plays charge `charge`'s outcome by `script`, after its delay (`default_delay` when the
    /// script names none).
    #[tracing::instrument(name = "charge_outcome", skip_all, fields(charge_id = %charge.charge_id))]
    pub async fn settle_charge(self, charge: Charge, script: Script, default_delay: Duration) {
        tokio::time::sleep(delay(&script, default_delay)).await;
        let (kind, status, failure_reason) = match script.outcome {
            Outcome::Approve => (EventType::ChargeSucceeded, Status::Succeeded, None),
            Outcome::Decline => (
                EventType::ChargeFailed,
                Status::Failed,
                Some(script.decline_reason().to_owned()),
            ),
        };
        self.books.settle_charge(&charge.charge_id, status);
        tracing::info!(outcome = kind.as_str(), "charge settled");
        let data = EventData {
            payment_id: charge.payment_id,
            order_id: charge.order_id,
            charge_id: charge.charge_id.clone(),
            amount_minor: charge.amount_minor,
            currency: charge.currency.clone(),
            refund_id: None,
            failure_reason,
        };
        let mut events = vec![event(kind, unix_now(), data.clone())];
        if script.out_of_order {
            let pending = EventData {
                failure_reason: None,
                ..data
            };
            events.push(event(EventType::ChargePending, charge.created, pending));
        }
        self.deliver_all(&events, script.duplicate).await;
    }

    /// Plays refund `refund` (created with `key`): it succeeds after its delay.
    #[tracing::instrument(name = "refund_outcome", skip_all, fields(refund_id = %refund.refund_id))]
    pub async fn settle_refund(
        self,
        key: Uuid,
        refund: Refund,
        script: Script,
        default_delay: Duration,
    ) {
        tokio::time::sleep(delay(&script, default_delay)).await;
        self.books.settle_refund(key);
        tracing::info!("refund settled");
        let charge = refund.charge;
        let data = EventData {
            payment_id: charge.payment_id,
            order_id: charge.order_id,
            charge_id: charge.charge_id,
            amount_minor: refund.amount_minor,
            currency: charge.currency,
            refund_id: Some(refund.refund_id),
            failure_reason: None,
        };
        let events = [event(EventType::RefundSucceeded, unix_now(), data)];
        self.deliver_all(&events, script.duplicate).await;
    }

    /// Delivers `events` in order, each twice when `duplicate`.
    async fn deliver_all(&self, events: &[Event], duplicate: bool) {
        for event in events {
            let body = event.to_json();
            let signature = self.sign(&body);
            self.deliver(event, &body, &signature, 1).await;
            if duplicate {
                self.deliver(event, &body, &signature, 2).await;
            }
        }
    }

    /// Delivers one callback: `signature` on the first try, a fresh one on each retry (as a
    /// real provider re-signs), until our webhook answers `2xx` or the tries run out.
    async fn deliver(&self, event: &Event, body: &[u8], signature: &str, copy: u32) {
        for attempt in 1..=self.retry.max_tries.max(1) {
            let signature = if attempt == 1 {
                signature.to_owned()
            } else {
                self.sign(body)
            };
            let sent = self
                .client
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .body(body.to_vec())
                .send()
                .await;
            let (status, error) = match sent {
                Ok(response) => (Some(response.status().as_u16()), None),
                Err(error) => (None, Some(describe(&error))),
            };
            let delivery = Delivery {
                event_id: event.id.clone(),
                kind: event.kind,
                order_id: event.data.order_id,
                copy,
                attempt,
                status,
                error,
                signature,
                event: event.clone(),
            };
            let delivered = delivery.delivered();
            tracing::info!(
                event_id = %event.id,
                r#type = event.kind.as_str(),
                copy,
                attempt,
                status = ?delivery.status,
                error = delivery.error.as_deref(),
                "callback sent"
            );
            self.books.record(delivery);
            if delivered {
                return;
            }
            if attempt < self.retry.max_tries {
                tokio::time::sleep(self.retry.backoff(attempt)).await;
            }
        }
        tracing::warn!(event_id = %event.id, tries = self.retry.max_tries, "callback given up");
    }
}

/// A new event of `kind` created at `created`.
fn event(kind: EventType, created: i64, data: EventData) -> Event {
    Event {
        id: format!("evt_{}", Uuid::new_v4()),
        kind,
        created,
        data,
    }
}

/// The script's delay, else the default one.
fn delay(script: &Script, default_delay: Duration) -> Duration {
    script.delay_ms.map_or(default_delay, Duration::from_millis)
}

/// A failed request in words, its causes included ("error sending request" alone says little).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The outcomes playing in the background. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks(Arc<Mutex<JoinSet<()>>>);

impl Tasks {
    /// Plays `outcome` in the background.
    pub fn spawn(&self, outcome: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget the finished ones, so the set holds only what is still playing.
        while let Some(finished) = tasks.try_join_next() {
            if let Err(error) = finished {
                tracing::error!(%error, "an outcome task failed");
            }
        }
        tasks.spawn(outcome);
    }

    /// Aborts every outcome still playing.
    pub fn abort_all(&self) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .abort_all();
    }
}
