//! The simulator's memory: charges and refunds with the idempotency keys that created them, the
//! scripts per order, and every delivery attempt. One lock over all of it, never held across an
//! await: each operation reads and writes under it at once, so two requests with one key cannot
//! both create.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, MutexGuard},
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webhook::{Event, EventType};

use crate::error::ProviderError;

/// Most delivery attempts remembered; the oldest are forgotten first (a long demo run must not
/// grow without bound).
pub const MAX_DELIVERIES: usize = 10_000;

/// Where a charge or refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created; the outcome is not decided yet.
    Pending,
    /// Collected (a charge) or paid back (a refund).
    Succeeded,
    /// Declined (charges only).
    Failed,
}

/// A charge: `amount_minor` of `currency` for our payment `payment_id` of order `order_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// `ch_` + UUIDv5(payment id): [`webhook::charge_id`].
    pub charge_id: String,
    /// Our payment.
    pub payment_id: Uuid,
    /// Our order; its script decides the outcome.
    pub order_id: Uuid,
    /// Minor units, positive.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// Where it stands.
    pub status: Status,
    /// The sum of its refunds, pending ones included.
    pub refunded_minor: i64,
    /// When it was created, Unix seconds (the `created` of its `charge.pending` event).
    pub created: i64,
}

/// A refund of (part of) a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    /// `re_` + UUIDv5(idempotency key): [`webhook::refund_id`].
    pub refund_id: String,
    /// The charge refunded, as it stood when the refund was created.
    pub charge: Charge,
    /// Minor units, positive, in the charge's currency.
    pub amount_minor: i64,
    /// Where it stands.
    pub status: Status,
}

/// How an order's charge (and its refunds) will be answered: `PUT /v1/scripts/{order_id}`.
/// Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Script {
    /// Approve (default) or decline the charge. Refunds always succeed.
    pub outcome: Outcome,
    /// How long to wait before answering; absent: the configured default delay.
    pub delay_ms: Option<u64>,
    /// Send every callback twice (the copy has the same event id and signature).
    pub duplicate: bool,
    /// Also produce a `charge.pending` event, created first but delivered after the final one.
    pub out_of_order: bool,
    /// The `failure_reason` of a declined charge; default `card declined`.
    pub decline_reason: Option<String>,
}

/// The outcome a script asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `charge.succeeded`.
    #[default]
    Approve,
    /// `charge.failed`.
    Decline,
}

/// Longest script delay accepted: a minute (longer would only leave tasks hanging).
pub const MAX_DELAY_MS: u64 = 60_000;
/// The failure reason of a declined charge whose script names none.
pub const DEFAULT_DECLINE_REASON: &str = "card declined";

impl Script {
    /// Checks the fields a type cannot: the delay's bound and the reason's length.
    pub fn check(&self) -> Result<(), ProviderError> {
        if self.delay_ms.is_some_and(|delay| delay > MAX_DELAY_MS) {
            return Err(ProviderError::invalid("delay_ms", "must be at most 60000"));
        }
        if self
            .decline_reason
            .as_ref()
            .is_some_and(|reason| reason.trim().is_empty() || reason.len() > webhook::MAX_TEXT_LEN)
        {
            return Err(ProviderError::invalid(
                "decline_reason",
                "must be 1 to 200 bytes of text",
            ));
        }
        Ok(())
    }

    /// The failure reason of a declined charge.
    pub fn decline_reason(&self) -> &str {
        self.decline_reason
            .as_deref()
            .unwrap_or(DEFAULT_DECLINE_REASON)
    }
}

/// One try to deliver one callback, as `GET /v1/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The order it is about.
    pub order_id: Uuid,
    /// 1, or 2 for the copy a `duplicate` script sends.
    pub copy: u32,
    /// 1 for the first try, then one more per retry.
    pub attempt: u32,
    /// The status our webhook answered; absent when the request failed (see `error`).
    pub status: Option<u16>,
    /// Why the request failed without an answer (connection refused, timeout).
    pub error: Option<String>,
    /// The `Commerce-Signature` header sent.
    pub signature: String,
    /// The body sent.
    pub event: Event,
}

impl Delivery {
    /// Whether the webhook answered `2xx`.
    pub fn delivered(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// Whether an operation created something or found it made by an earlier request with the same
/// idempotency key (or, for a charge, for the same payment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened<T> {
    /// Created now: its outcome is to be played.
    Created(T),
    /// Already there: answered as it stands, nothing played again.
    Existing(T),
}

/// The simulator's memory; see the module doc.
#[derive(Debug, Default)]
pub struct Books {
    ledger: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    charges: HashMap<String, Charge>,
    charge_keys: HashMap<Uuid, String>,
    refunds: HashMap<Uuid, Refund>,
    scripts: HashMap<Uuid, Script>,
    deliveries: VecDeque<Delivery>,
}

impl Books {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic while the lock was held left plain data, still consistent per field: go on.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The charge an earlier request with `key` created.
    pub fn charge_for_key(&self, key: Uuid) -> Option<Charge> {
        let ledger = self.ledger();
        let id = ledger.charge_keys.get(&key)?;
        ledger.charges.get(id).cloned()
    }

    /// Creates `charge` under `key`, unless `key` already made one (that one is returned) or its
    /// payment already has its charge (charge ids are per payment: that one is returned, and
    /// `key` now names it too). A created charge comes with its order's script.
    pub fn open_charge(&self, key: Uuid, charge: Charge) -> (Opened<Charge>, Script) {
        let mut ledger = self.ledger();
        let script = ledger
            .scripts
            .get(&charge.order_id)
            .cloned()
            .unwrap_or_default();
        if let Some(existing) = ledger
            .charge_keys
            .get(&key)
            .and_then(|id| ledger.charges.get(id))
        {
            return (Opened::Existing(existing.clone()), script);
        }
        let id = charge.charge_id.clone();
        ledger.charge_keys.insert(key, id.clone());
        if let Some(existing) = ledger.charges.get(&id) {
            return (Opened::Existing(existing.clone()), script);
        }
        ledger.charges.insert(id, charge.clone());
        (Opened::Created(charge), script)
    }

    /// Records the outcome of charge `charge_id`.
    pub fn settle_charge(&self, charge_id: &str, status: Status) {
        if let Some(charge) = self.ledger().charges.get_mut(charge_id) {
            charge.status = status;
        }
    }

    /// The refund an earlier request with `key` created.
    pub fn refund_for_key(&self, key: Uuid) -> Option<Refund> {
        self.ledger().refunds.get(&key).cloned()
    }

    /// Creates a refund of `amount_minor` `currency` of charge `charge_id` (of `payment_id`)
    /// under `key`, unless `key` already made one (returned as it stands). The charge must exist
    /// (404), belong to the payment and be in the currency (400), have succeeded and have that
    /// much left to refund (409). A created refund comes with its order's script.
    pub fn open_refund(
        &self,
        key: Uuid,
        payment_id: Uuid,
        charge_id: &str,
        amount_minor: i64,
        currency: &str,
    ) -> Result<(Opened<Refund>, Script), ProviderError> {
        let mut ledger = self.ledger();
        if let Some(existing) = ledger.refunds.get(&key) {
            let script = ledger.scripts.get(&existing.charge.order_id).cloned();
            return Ok((
                Opened::Existing(existing.clone()),
                script.unwrap_or_default(),
            ));
        }
        let charge = ledger
            .charges
            .get_mut(charge_id)
            .ok_or_else(|| ProviderError::NotFound(format!("no such charge {charge_id}")))?;
        if charge.payment_id != payment_id {
            return Err(ProviderError::invalid(
                "payment_id",
                format!("is not the payment of charge {charge_id}"),
            ));
        }
        if charge.currency != currency {
            return Err(ProviderError::invalid(
                "currency",
                format!("must be the charge's currency, {}", charge.currency),
            ));
        }
        if charge.status != Status::Succeeded {
            return Err(ProviderError::NotRefundable(format!(
                "charge {charge_id} has not succeeded"
            )));
        }
        let left = charge.amount_minor - charge.refunded_minor;
        if amount_minor > left {
            return Err(ProviderError::NotRefundable(format!(
                "charge {charge_id} has {left} left to refund, not {amount_minor}"
            )));
        }
        charge.refunded_minor += amount_minor;
        let refund = Refund {
            refund_id: webhook::refund_id(key),
            charge: charge.clone(),
            amount_minor,
            status: Status::Pending,
        };
        let script = ledger.scripts.get(&refund.charge.order_id).cloned();
        ledger.refunds.insert(key, refund.clone());
        Ok((Opened::Created(refund), script.unwrap_or_default()))
    }

    /// Records that the refund created with `key` succeeded.
    pub fn settle_refund(&self, key: Uuid) {
        if let Some(refund) = self.ledger().refunds.get_mut(&key) {
            refund.status = Status::Succeeded;
        }
    }

    /// Sets how `order_id`'s charge and refunds created from now on are answered.
    pub fn set_script(&self, order_id: Uuid, script: Script) {
        self.ledger().scripts.insert(order_id, script);
    }

    /// Remembers a delivery attempt.
    pub fn record(&self, delivery: Delivery) {
        let mut ledger = self.ledger();
        if ledger.deliveries.len() == MAX_DELIVERIES {
            ledger.deliveries.pop_front();
        }
        ledger.deliveries.push_back(delivery);
    }

    /// The delivery attempts about `order_id` (all of them when `None`), oldest first.
    pub fn deliveries(&self, order_id: Option<Uuid>) -> Vec<Delivery> {
        self.ledger()
            .deliveries
            .iter()
            .filter(|delivery| order_id.is_none_or(|order| delivery.order_id == order))
            .cloned()
            .collect()
    }
}
