//! The steps a checkout sends — one command to one service (or one call to the payment
//! provider) each — with their deterministic command ids, and [`pending`]: the steps to send
//! now, a pure function of the recorded state.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CheckoutDetails, Phase};
use crate::{
    ids::{OrderId, ProductId},
    payment::PaymentMethod,
    product::StockLine,
};

/// What one product holds for the checkout: one `ReserveStock` (all or nothing across its SKUs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductStock {
    /// The product (its stream holds the stock).
    pub product_id: ProductId,
    /// Its SKUs of the order, with quantities.
    pub items: Vec<StockLine>,
}

/// One command the checkout sends. Forward steps make the purchase; compensation steps undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// product: `ReserveStock(reservation = order id, the product's items)`.
    Reserve {
        /// The product.
        product_id: ProductId,
    },
    /// order: `MarkStockReserved`.
    ConfirmOrder,
    /// payment: `Initiate(payment id, order, customer, total, method)`.
    InitiatePayment,
    /// customer: `DebitBalance(payment id, total)` (balance payments).
    DebitBalance,
    /// payment: `Capture` (balance payments, after the debit).
    Capture,
    /// provider: create the charge (external payments); its outcome comes back by callback.
    Charge,
    /// order: `MarkPaid(payment id, total)`.
    MarkPaid,
    /// product: `CommitStock(reservation)`.
    Commit {
        /// The product.
        product_id: ProductId,
    },
    /// cart: `Clear`.
    ClearCart,
    /// product: `ReleaseStock(reservation)`.
    Release {
        /// The product.
        product_id: ProductId,
    },
    /// product: `ReturnStock(reservation)` (a committed reservation back on hand).
    Return {
        /// The product.
        product_id: ProductId,
    },
    /// payment: `Fail(reason)`: voids a payment not captured.
    FailPayment,
    /// customer: `DepositBalance(total)`: gives a debited balance back.
    CreditBalance,
    /// payment: `Refund(total)` (balance payments; external ones are refunded by the provider's
    /// callback).
    RefundPayment,
    /// provider: create the refund (external payments); confirmed by callback.
    ProviderRefund,
    /// order: `Cancel(reason)`.
    CancelOrder,
}

/// Namespace of every UUIDv5 the checkout derives (`docs/checkout.md`).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_9d4a_4f0b_8e57_c0ff_ee00_c4e0);

impl Step {
    /// The step's name in command ids and logs: `reserve:<product id>`, `confirm-order`, ….
    pub fn name(&self) -> String {
        match self {
            Self::Reserve { product_id } => format!("reserve:{product_id}"),
            Self::Commit { product_id } => format!("commit:{product_id}"),
            Self::Release { product_id } => format!("release:{product_id}"),
            Self::Return { product_id } => format!("return:{product_id}"),
            Self::ConfirmOrder => "confirm-order".to_owned(),
            Self::InitiatePayment => "initiate-payment".to_owned(),
            Self::DebitBalance => "debit-balance".to_owned(),
            Self::Capture => "capture".to_owned(),
            Self::Charge => "charge".to_owned(),
            Self::MarkPaid => "mark-paid".to_owned(),
            Self::ClearCart => "clear-cart".to_owned(),
            Self::FailPayment => "fail-payment".to_owned(),
            Self::CreditBalance => "credit-balance".to_owned(),
            Self::RefundPayment => "refund-payment".to_owned(),
            Self::ProviderRefund => "provider-refund".to_owned(),
            Self::CancelOrder => "cancel-order".to_owned(),
        }
    }

    /// The command id of this step of checkout `order_id`: UUIDv5(checkout id, step name), so
    /// sending it again is the same command again.
    pub fn command_id(&self, order_id: OrderId) -> Uuid {
        Uuid::new_v5(&checkout_namespace(order_id), self.name().as_bytes())
    }

    /// Whether the step undoes something (its refusals never block the checkout).
    pub fn is_compensation(&self) -> bool {
        matches!(
            self,
            Self::Release { .. }
                | Self::Return { .. }
                | Self::FailPayment
                | Self::CreditBalance
                | Self::RefundPayment
                | Self::ProviderRefund
                | Self::CancelOrder
        )
    }
}

/// The namespace of checkout `order_id`'s derived ids.
fn checkout_namespace(order_id: OrderId) -> Uuid {
    Uuid::new_v5(&NAMESPACE, order_id.0.as_bytes())
}

/// The command id that records, in checkout `order_id`'s stream, the reply to `step`.
pub fn reply_command_id(order_id: OrderId, step: &Step) -> Uuid {
    Uuid::new_v5(&step.command_id(order_id), b"reply")
}

/// The command id that records, in a checkout's stream, the event `event_id` of another stream.
pub fn notice_command_id(event_id: Uuid) -> Uuid {
    Uuid::new_v5(&event_id, b"checkout")
}

/// The command id that records the deadline of checkout `order_id`.
pub fn deadline_command_id(order_id: OrderId) -> Uuid {
    Uuid::new_v5(&checkout_namespace(order_id), b"deadline")
}

/// The payment a checkout collects with: UUIDv5(order id, `payment`).
pub fn payment_id(order_id: OrderId) -> crate::ids::PaymentId {
    crate::ids::PaymentId(Uuid::new_v5(&order_id.0, b"payment"))
}

/// The steps to send now: every step the state calls for that has no answer yet. Sent
/// concurrently; each answer is recorded before `pending` is asked again. Empty when the
/// checkout is final or waits for something outside it (the provider's callback).
pub fn pending(details: &CheckoutDetails) -> Vec<Step> {
    let steps = match &details.phase {
        Phase::Running => details.forward(),
        Phase::Compensating { unsettled, .. } => {
            let unsettled = details.unanswered(unsettled.iter().copied());
            if unsettled.is_empty() {
                details.undo()
            } else {
                unsettled
            }
        }
        Phase::Refunding { .. } => details.refund(),
        Phase::Completed | Phase::Cancelled { .. } | Phase::Refunded => Vec::new(),
    };
    debug_assert!(steps.iter().all(|step| !details.answered(step)));
    steps
}

impl CheckoutDetails {
    /// Whether `step` has been answered (done or refused).
    pub fn answered(&self, step: &Step) -> bool {
        self.succeeded.contains(step) || self.refused.contains_key(step)
    }

    /// Whether `step` was done.
    pub fn succeeded(&self, step: &Step) -> bool {
        self.succeeded.contains(step)
    }

    fn unanswered(&self, steps: impl IntoIterator<Item = Step>) -> Vec<Step> {
        steps
            .into_iter()
            .filter(|step| !self.answered(step))
            .collect()
    }

    fn each_product(&self, step: fn(ProductId) -> Step) -> impl Iterator<Item = Step> + '_ {
        self.products.iter().map(move |p| step(p.product_id))
    }

    /// Whether the payment is captured, by our own step or by the provider's callback.
    pub fn captured(&self) -> bool {
        self.succeeded(&Step::Capture) || self.payment_captured
    }

    /// The next forward steps (phase Running).
    pub(crate) fn forward(&self) -> Vec<Step> {
        let reserves =
            self.unanswered(self.each_product(|product_id| Step::Reserve { product_id }));
        if !reserves.is_empty() {
            return reserves;
        }
        // Once the stock is held, confirming the order, opening the payment and (by balance)
        // debiting the customer need no answer of each other: they go out together.
        let mut steps = self.unanswered([Step::ConfirmOrder, Step::InitiatePayment]);
        if self.method == PaymentMethod::Balance && !self.answered(&Step::DebitBalance) {
            steps.push(Step::DebitBalance);
        }
        if !steps.is_empty() {
            return steps;
        }
        // Capturing needs the payment opened and the debit done; the provider's charge needs the
        // payment opened, so that its callback finds it.
        let collect = match self.method {
            PaymentMethod::Balance => Step::Capture,
            PaymentMethod::External => Step::Charge,
        };
        if !self.answered(&collect) {
            return vec![collect];
        }
        if !self.captured() {
            return Vec::new(); // the provider's callback
        }
        if !self.answered(&Step::MarkPaid) {
            return vec![Step::MarkPaid];
        }
        self.unanswered(
            self.each_product(|product_id| Step::Commit { product_id })
                .chain([Step::ClearCart]),
        )
    }

    /// The steps that undo an unpaid checkout (phase Compensating, unsettled steps answered).
    pub(crate) fn undo(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for product in &self.products {
            let product_id = product.product_id;
            if self.succeeded(&Step::Commit { product_id }) {
                steps.push(Step::Return { product_id });
            } else if self.succeeded(&Step::Reserve { product_id }) {
                steps.push(Step::Release { product_id });
            }
        }
        if self.captured() {
            steps.extend(self.money_back());
        } else {
            if self.succeeded(&Step::DebitBalance) {
                steps.push(Step::CreditBalance);
            }
            if self.succeeded(&Step::InitiatePayment) && !self.payment_failed {
                steps.push(Step::FailPayment);
            }
        }
        let mut steps = self.unanswered(steps);
        if steps.is_empty() && !self.awaiting_refund() && !self.order_cancelled {
            steps = self.unanswered([Step::CancelOrder]);
        }
        steps
    }

    /// The steps that refund a paid checkout (phase Refunding): finish any commit first, so no
    /// reservation is left half-resolved, then return the stock and the money.
    pub(crate) fn refund(&self) -> Vec<Step> {
        let reserved = |product_id| self.succeeded(&Step::Reserve { product_id });
        let commits: Vec<Step> = self.unanswered(
            self.products
                .iter()
                .filter(|p| reserved(p.product_id))
                .map(|p| Step::Commit {
                    product_id: p.product_id,
                }),
        );
        if !commits.is_empty() {
            return commits;
        }
        let mut steps: Vec<Step> = self
            .products
            .iter()
            .filter(|p| {
                self.succeeded(&Step::Commit {
                    product_id: p.product_id,
                })
            })
            .map(|p| Step::Return {
                product_id: p.product_id,
            })
            .collect();
        steps.extend(self.money_back());
        self.unanswered(steps)
    }

    /// The steps that give captured money back, in order: balance → refund the payment, then
    /// credit the balance; external → the provider's refund (its callback refunds the payment).
    fn money_back(&self) -> Vec<Step> {
        let steps = match self.method {
            PaymentMethod::Balance => vec![Step::RefundPayment, Step::CreditBalance],
            PaymentMethod::External => vec![Step::ProviderRefund],
        };
        self.unanswered(steps).into_iter().take(1).collect()
    }

    /// Whether an external refund was asked of the provider and its callback has not come.
    pub fn awaiting_refund(&self) -> bool {
        self.succeeded(&Step::ProviderRefund) && !self.payment_refunded
    }

    /// Whether nothing is left to do in the current phase: the checkout can be closed.
    pub(crate) fn settled(&self) -> bool {
        match &self.phase {
            Phase::Running => {
                self.succeeded(&Step::MarkPaid)
                    && self.forward().is_empty()
                    && self.products.iter().all(|p| {
                        self.answered(&Step::Commit {
                            product_id: p.product_id,
                        })
                    })
            }
            Phase::Compensating { unsettled, .. } => {
                self.unanswered(unsettled.iter().copied()).is_empty()
                    && self.undo().is_empty()
                    && !self.awaiting_refund()
            }
            Phase::Refunding { .. } => self.refund().is_empty() && !self.awaiting_refund(),
            Phase::Completed | Phase::Cancelled { .. } | Phase::Refunded => false,
        }
    }
}
