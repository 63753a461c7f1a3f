//! Given/when/then tests of the checkout process manager, and a simulation that drives
//! [`pending`] to the end under every pattern of answers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::{
    event::DomainEvent,
    ids::{CustomerId, ProductId, SkuId},
    money::{Currency, Money},
    payment::PaymentMethod,
    product::StockLine,
    testing,
};

const ORDER: OrderId = OrderId(Uuid::from_u128(1));
const BUYER: CustomerId = CustomerId(Uuid::from_u128(2));
const SHIRTS: ProductId = ProductId(Uuid::from_u128(3));
const SOCKS: ProductId = ProductId(Uuid::from_u128(4));

fn at(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + Duration::seconds(second)
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn products() -> Vec<ProductStock> {
    [SHIRTS, SOCKS]
        .into_iter()
        .enumerate()
        .map(|(i, product_id)| ProductStock {
            product_id,
            items: vec![StockLine {
                sku_id: SkuId(Uuid::from_u128(10 + i as u128)),
                quantity: 2,
            }],
        })
        .collect()
}

fn start(method: PaymentMethod) -> CheckoutCommand {
    CheckoutCommand::Start {
        order_id: ORDER,
        customer_id: BUYER,
        total: eur(4000),
        method,
        products: products(),
        deadline: at(900),
        at: at(0),
    }
}

fn started(method: PaymentMethod) -> CheckoutEvent {
    CheckoutEvent::CheckoutStarted {
        order_id: ORDER,
        customer_id: BUYER,
        payment_id: payment_id(ORDER),
        method,
        total: eur(4000),
        products: products(),
        deadline: at(900),
        at: at(0),
    }
}

fn reserve(product_id: ProductId) -> Step {
    Step::Reserve { product_id }
}

fn done(step: Step) -> CheckoutCommand {
    CheckoutCommand::Replied {
        step,
        outcome: Outcome::Done,
        at: at(1),
    }
}

fn refused(step: Step, message: &str) -> CheckoutCommand {
    CheckoutCommand::Replied {
        step,
        outcome: Outcome::Refused {
            kind: Refusal::Rejected,
            message: message.to_owned(),
        },
        at: at(1),
    }
}

fn notice(fact: Fact) -> CheckoutCommand {
    CheckoutCommand::Notice { fact, at: at(2) }
}

/// A checkout's history: a list of events, grown by deciding commands on it.
struct History(Vec<CheckoutEvent>);

/// The steps up to an opened payment: both reservations, the order confirmed.
const PAYMENT_OPENED: [Step; 4] = [
    Step::Reserve { product_id: SHIRTS },
    Step::Reserve { product_id: SOCKS },
    Step::ConfirmOrder,
    Step::InitiatePayment,
];
/// The steps up to an external charge asked of the provider.
const CHARGED: [Step; 5] = [
    Step::Reserve { product_id: SHIRTS },
    Step::Reserve { product_id: SOCKS },
    Step::ConfirmOrder,
    Step::InitiatePayment,
    Step::Charge,
];

impl History {
    fn started(method: PaymentMethod) -> Self {
        Self(vec![started(method)])
    }

    /// A checkout by `method` whose `steps` were answered done, in order.
    fn answered(method: PaymentMethod, steps: &[Step]) -> Self {
        let mut history = Self::started(method);
        for step in steps {
            history.when(done(*step));
        }
        history
    }

    fn state(&self) -> CheckoutDetails {
        match Checkout::fold(&self.0) {
            CheckoutState::Started(details) => details,
            CheckoutState::NotStarted => panic!("not started"),
        }
    }

    fn pending(&self) -> Vec<Step> {
        pending(&self.state())
    }

    /// Decides `command` on the history, appends what it recorded and returns it.
    #[track_caller]
    fn when(&mut self, command: CheckoutCommand) -> Vec<CheckoutEvent> {
        let events = testing::given::<Checkout>(self.0.clone())
            .when(command)
            .result()
            .expect("accepted");
        self.0.extend(events.clone());
        events
    }

    /// Answers every pending step done, until nothing is pending.
    fn all_done(&mut self) {
        loop {
            let steps = self.pending();
            if steps.is_empty() {
                return;
            }
            for step in steps {
                self.when(done(step));
            }
        }
    }

    fn phase(&self) -> Phase {
        self.state().phase
    }
}

#[test]
fn start_records_the_checkout_with_its_derived_payment_once() {
    let state = testing::given::<Checkout>([])
        .when(start(PaymentMethod::Balance))
        .then([started(PaymentMethod::Balance)]);
    let CheckoutState::Started(details) = &state else {
        panic!("not started")
    };
    assert_eq!(pending(details), vec![reserve(SHIRTS), reserve(SOCKS)]);
    testing::given::<Checkout>([started(PaymentMethod::Balance)])
        .when(start(PaymentMethod::External))
        .then([]);
}

#[test]
fn a_checkout_needs_products_and_a_positive_total() {
    let CheckoutCommand::Start { .. } = start(PaymentMethod::Balance) else {
        unreachable!()
    };
    let empty = CheckoutCommand::Start {
        order_id: ORDER,
        customer_id: BUYER,
        total: eur(4000),
        method: PaymentMethod::Balance,
        products: vec![],
        deadline: at(900),
        at: at(0),
    };
    assert!(testing::given::<Checkout>([]).when(empty).result().is_err());
    testing::given::<Checkout>([])
        .when(done(Step::ConfirmOrder))
        .then_error(DomainError::NotCreated { entity: "checkout" });
}

#[test]
fn a_balance_checkout_goes_step_by_step_to_completed() {
    let mut h = History::started(PaymentMethod::Balance);
    h.when(done(reserve(SHIRTS)));
    assert_eq!(h.pending(), vec![reserve(SOCKS)]);
    h.when(done(reserve(SOCKS)));
    assert_eq!(
        h.pending(),
        vec![
            Step::ConfirmOrder,
            Step::InitiatePayment,
            Step::DebitBalance
        ],
        "none needs another's answer"
    );
    for step in h.pending() {
        h.when(done(step));
    }
    for expected in [Step::Capture, Step::MarkPaid] {
        assert_eq!(h.pending(), vec![expected]);
        h.when(done(expected));
    }
    assert_eq!(
        h.pending(),
        vec![
            Step::Commit { product_id: SHIRTS },
            Step::Commit { product_id: SOCKS },
            Step::ClearCart
        ]
    );
    h.when(done(Step::Commit { product_id: SHIRTS }));
    h.when(done(Step::ClearCart));
    let last = h.when(done(Step::Commit { product_id: SOCKS }));
    assert_eq!(
        last.last(),
        Some(&CheckoutEvent::CheckoutCompleted {
            order_id: ORDER,
            at: at(1)
        })
    );
    assert_eq!(h.phase(), Phase::Completed);
    assert!(h.pending().is_empty());
}

#[test]
fn an_external_checkout_waits_for_the_providers_callback() {
    let mut h = History::answered(PaymentMethod::External, &CHARGED);
    assert!(h.pending().is_empty(), "waits for the callback");
    assert_eq!(h.phase(), Phase::Running);
    h.when(notice(Fact::PaymentCaptured));
    assert_eq!(h.pending(), vec![Step::MarkPaid]);
    assert!(h.when(notice(Fact::PaymentCaptured)).is_empty(), "known");

    // A balance checkout's own capture is known without the payment's event.
    let mut h = History::started(PaymentMethod::Balance);
    h.all_done();
    assert!(h.when(notice(Fact::PaymentCaptured)).is_empty());
    h.all_done();
    assert_eq!(h.phase(), Phase::Completed);
}

#[test]
fn out_of_stock_on_one_product_releases_the_other_and_cancels_the_order() {
    let mut h = History::started(PaymentMethod::Balance);
    h.when(done(reserve(SHIRTS)));
    let events = h.when(refused(reserve(SOCKS), "insufficient stock for sku"));
    assert_eq!(
        events[1],
        CheckoutEvent::CheckoutCompensationStarted {
            order_id: ORDER,
            reason: OUT_OF_STOCK.into(),
            unsettled: vec![],
            at: at(1),
        }
    );
    assert_eq!(h.pending(), vec![Step::Release { product_id: SHIRTS }]);
    h.when(done(Step::Release { product_id: SHIRTS }));
    assert_eq!(h.pending(), vec![Step::CancelOrder], "the order last");
    h.when(done(Step::CancelOrder));
    assert_eq!(
        h.phase(),
        Phase::Cancelled {
            reason: OUT_OF_STOCK.into()
        }
    );
}

#[test]
fn a_refusal_while_another_reservation_is_in_flight_settles_it_before_undoing() {
    let mut h = History::started(PaymentMethod::Balance);
    let events = h.when(refused(reserve(SHIRTS), "insufficient stock"));
    let CheckoutEvent::CheckoutCompensationStarted { unsettled, .. } = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(unsettled, &vec![reserve(SOCKS)]);
    assert_eq!(h.pending(), vec![reserve(SOCKS)], "learn whether it took");
    h.when(done(reserve(SOCKS)));
    assert_eq!(h.pending(), vec![Step::Release { product_id: SOCKS }]);
}

#[test]
fn insufficient_balance_releases_the_stock_and_voids_the_payment() {
    let mut h = History::answered(PaymentMethod::Balance, &PAYMENT_OPENED);
    h.when(refused(
        Step::DebitBalance,
        "insufficient balance: 100 < 4000",
    ));
    assert_eq!(
        h.pending(),
        vec![
            Step::Release { product_id: SHIRTS },
            Step::Release { product_id: SOCKS },
            Step::FailPayment
        ]
    );
    h.all_done();
    assert_eq!(
        h.phase(),
        Phase::Cancelled {
            reason: INSUFFICIENT_BALANCE.into()
        }
    );
    assert!(
        !h.state().succeeded(&Step::CreditBalance),
        "nothing debited"
    );
}

#[test]
fn a_declined_external_payment_is_not_failed_again() {
    let mut h = History::answered(PaymentMethod::External, &CHARGED);
    h.when(notice(Fact::PaymentFailed {
        reason: "payment declined: card declined".into(),
    }));
    assert_eq!(
        h.pending(),
        vec![
            Step::Release { product_id: SHIRTS },
            Step::Release { product_id: SOCKS }
        ]
    );
    h.all_done();
    assert_eq!(
        h.phase(),
        Phase::Cancelled {
            reason: "payment declined: card declined".into()
        }
    );
}

#[test]
fn the_deadline_compensates_an_unpaid_checkout_once() {
    let mut h = History::answered(PaymentMethod::External, &CHARGED);
    assert_eq!(h.when(notice(Fact::DeadlinePassed)).len(), 2);
    assert!(h.when(notice(Fact::DeadlinePassed)).is_empty(), "twice");
    assert!(h.pending().contains(&Step::FailPayment));
    h.all_done();
    assert_eq!(
        h.phase(),
        Phase::Cancelled {
            reason: DEADLINE_PASSED.into()
        }
    );
}

#[test]
fn a_deadline_after_capture_changes_nothing() {
    let mut h = History::started(PaymentMethod::Balance);
    h.all_done();
    assert_eq!(h.phase(), Phase::Completed);
    assert!(h.when(notice(Fact::DeadlinePassed)).is_empty());

    let mut h = History::answered(PaymentMethod::External, &CHARGED);
    h.when(notice(Fact::PaymentCaptured));
    assert!(h.when(notice(Fact::DeadlinePassed)).is_empty());
    assert_eq!(h.pending(), vec![Step::MarkPaid]);
}

#[test]
fn a_paid_order_cancelled_by_its_customer_gets_money_and_stock_back() {
    let mut h = History::started(PaymentMethod::Balance);
    h.all_done();
    let events = h.when(notice(Fact::OrderRefunded {
        reason: "changed my mind".into(),
    }));
    assert!(matches!(
        events[1],
        CheckoutEvent::CheckoutRefundStarted { .. }
    ));
    assert_eq!(
        h.pending(),
        vec![
            Step::Return { product_id: SHIRTS },
            Step::Return { product_id: SOCKS },
            Step::RefundPayment
        ]
    );
    for step in h.pending() {
        h.when(done(step));
    }
    assert_eq!(
        h.pending(),
        vec![Step::CreditBalance],
        "refund, then credit"
    );
    h.when(done(Step::CreditBalance));
    assert_eq!(h.phase(), Phase::Refunded);
    assert!(
        h.when(notice(Fact::OrderRefunded {
            reason: "again".into()
        }))
        .is_empty()
    );
}

#[test]
fn an_external_refund_waits_for_the_providers_callback() {
    let mut h = History::answered(PaymentMethod::External, &CHARGED);
    h.when(notice(Fact::PaymentCaptured));
    h.all_done();
    h.when(notice(Fact::OrderRefunded {
        reason: "changed my mind".into(),
    }));
    h.all_done();
    assert!(
        matches!(h.phase(), Phase::Refunding { .. }),
        "the provider has not confirmed"
    );
    h.when(notice(Fact::PaymentRefunded));
    assert_eq!(h.phase(), Phase::Refunded);
}

#[test]
fn a_customer_cancelling_during_the_debit_gets_the_debit_back() {
    let mut h = History::answered(PaymentMethod::Balance, &PAYMENT_OPENED);
    // The debit was sent; its answer is not recorded yet when the cancellation is noticed.
    h.when(notice(Fact::OrderCancelled {
        reason: "changed my mind".into(),
    }));
    assert_eq!(
        h.pending(),
        vec![Step::DebitBalance],
        "settle the debit first"
    );
    h.when(done(Step::DebitBalance));
    let undo = h.pending();
    assert!(undo.contains(&Step::CreditBalance) && undo.contains(&Step::FailPayment));
    h.all_done();
    assert!(!h.state().answered(&Step::CancelOrder), "already cancelled");
    assert!(matches!(h.phase(), Phase::Cancelled { .. }));
}

#[test]
fn mark_paid_refused_after_capture_refunds_the_money() {
    let mut h = History::started(PaymentMethod::Balance);
    for step in [
        reserve(SHIRTS),
        reserve(SOCKS),
        Step::ConfirmOrder,
        Step::InitiatePayment,
        Step::DebitBalance,
        Step::Capture,
    ] {
        h.when(done(step));
    }
    h.when(refused(
        Step::MarkPaid,
        "cannot mark paid a cancelled order",
    ));
    let undo = h.pending();
    assert!(undo.contains(&Step::RefundPayment), "{undo:?}");
    assert!(!undo.contains(&Step::FailPayment));
    h.all_done();
    let state = h.state();
    assert!(state.succeeded(&Step::CreditBalance));
    assert!(matches!(state.phase, Phase::Cancelled { .. }));
}

#[test]
fn answers_count_once_and_already_exists_means_done() {
    let mut h = History::started(PaymentMethod::Balance);
    assert_eq!(h.when(done(reserve(SHIRTS))).len(), 1);
    assert!(h.when(done(reserve(SHIRTS))).is_empty());
    assert!(h.when(refused(reserve(SHIRTS), "late")).is_empty());
    let exists = CheckoutCommand::Replied {
        step: reserve(SOCKS),
        outcome: Outcome::Refused {
            kind: Refusal::AlreadyExists,
            message: "reservation already exists".into(),
        },
        at: at(1),
    };
    assert_eq!(
        h.when(exists),
        vec![CheckoutEvent::CheckoutStepSucceeded {
            order_id: ORDER,
            step: reserve(SOCKS),
            at: at(1)
        }]
    );
}

#[test]
fn a_refused_compensation_counts_as_answered() {
    let mut h = History::started(PaymentMethod::Balance);
    h.when(done(reserve(SHIRTS)));
    h.when(refused(reserve(SOCKS), "insufficient stock"));
    h.when(refused(
        Step::Release { product_id: SHIRTS },
        "reservation already released",
    ));
    assert_eq!(h.pending(), vec![Step::CancelOrder]);
}

#[test]
fn command_ids_are_deterministic_and_distinct_per_step_and_product() {
    let steps = [
        reserve(SHIRTS),
        reserve(SOCKS),
        Step::Commit { product_id: SHIRTS },
        Step::Release { product_id: SHIRTS },
        Step::ConfirmOrder,
        Step::MarkPaid,
        Step::CancelOrder,
    ];
    let ids: std::collections::BTreeSet<_> =
        steps.iter().map(|step| step.command_id(ORDER)).collect();
    assert_eq!(ids.len(), steps.len());
    assert_eq!(
        reserve(SHIRTS).command_id(ORDER),
        reserve(SHIRTS).command_id(ORDER)
    );
    assert_ne!(
        reserve(SHIRTS).command_id(ORDER),
        reserve(SHIRTS).command_id(OrderId(Uuid::from_u128(9)))
    );
    assert_ne!(
        reply_command_id(ORDER, &reserve(SHIRTS)),
        reserve(SHIRTS).command_id(ORDER)
    );
    assert_eq!(payment_id(ORDER), payment_id(ORDER));
}

#[test]
fn every_event_round_trips_through_storage() {
    let mut h = History::started(PaymentMethod::Balance);
    h.when(done(reserve(SHIRTS)));
    h.when(refused(reserve(SOCKS), "no"));
    h.all_done();
    h.0.push(CheckoutEvent::CheckoutNoticed {
        order_id: ORDER,
        fact: Fact::OrderRefunded { reason: "x".into() },
        at: at(3),
    });
    h.0.push(CheckoutEvent::CheckoutRefundStarted {
        order_id: ORDER,
        reason: "x".into(),
        at: at(3),
    });
    h.0.push(CheckoutEvent::CheckoutRefunded {
        order_id: ORDER,
        at: at(3),
    });
    h.0.push(CheckoutEvent::CheckoutCompleted {
        order_id: ORDER,
        at: at(3),
    });
    let types: std::collections::BTreeSet<_> = h.0.iter().map(DomainEvent::event_type).collect();
    assert_eq!(types.len(), CheckoutEvent::SCHEMAS.len(), "{types:?}");
    for event in &h.0 {
        let back = CheckoutEvent::from_stored(
            event.event_type(),
            event.schema_version(),
            &event.to_data(),
        )
        .unwrap();
        assert_eq!(&back, event);
    }
}

/// Drives a checkout to its end with answers from `answer` (`None`: done) and facts injected
/// when nothing is pending, and checks what must hold however it went: it ends, and nothing
/// taken is kept — every held reservation released or committed (and committed ones paid for),
/// every debit credited back or captured, a captured payment either paid for or refunded.
fn simulate(
    method: PaymentMethod,
    refuse: &dyn Fn(&Step) -> bool,
    interrupt: Option<(usize, Fact)>,
) -> CheckoutDetails {
    let mut h = History::started(method);
    let mut answered = 0;
    let mut interrupt = interrupt;
    for _ in 0..100 {
        let steps = h.pending();
        if steps.is_empty() {
            if h.phase().is_final() || h.phase() == Phase::Completed {
                break;
            }
            // Waiting on the provider: it answers as the refusals say.
            let fact = if h.state().awaiting_refund() {
                Fact::PaymentRefunded
            } else if refuse(&Step::Charge) {
                Fact::PaymentFailed {
                    reason: "payment declined".into(),
                }
            } else {
                Fact::PaymentCaptured
            };
            h.when(notice(fact));
            continue;
        }
        for step in steps {
            if let Some((at_answer, fact)) = interrupt.take() {
                if answered >= at_answer {
                    h.when(notice(fact));
                } else {
                    interrupt = Some((at_answer, fact));
                }
            }
            answered += 1;
            let refused_now = refuse(&step) && step != Step::Charge;
            h.when(if refused_now {
                refused(step, "refused")
            } else {
                done(step)
            });
        }
    }
    let state = h.state();
    assert!(
        state.phase.is_final() || state.phase == Phase::Completed,
        "ended: {:?}",
        state.phase
    );
    for product in &state.products {
        let product_id = product.product_id;
        if state.succeeded(&Step::Reserve { product_id }) {
            let committed = state.succeeded(&Step::Commit { product_id });
            let released = state.answered(&Step::Release { product_id });
            assert!(committed || released, "reservation left open: {state:?}");
            if committed && state.phase != Phase::Completed {
                assert!(state.answered(&Step::Return { product_id }), "{state:?}");
            }
        }
    }
    if state.phase == Phase::Completed {
        assert!(state.captured() && state.succeeded(&Step::MarkPaid));
    } else if state.captured() {
        let refunded = match method {
            PaymentMethod::Balance => state.answered(&Step::CreditBalance),
            PaymentMethod::External => state.payment_refunded,
        };
        assert!(refunded, "captured and kept: {state:?}");
    } else if state.succeeded(&Step::DebitBalance) {
        assert!(state.answered(&Step::CreditBalance), "debited and kept");
    }
    state
}

#[test]
fn whatever_is_refused_a_checkout_ends_holding_nothing_it_should_not() {
    let forward = [
        reserve(SHIRTS),
        reserve(SOCKS),
        Step::ConfirmOrder,
        Step::InitiatePayment,
        Step::DebitBalance,
        Step::Capture,
        Step::Charge,
        Step::MarkPaid,
    ];
    let facts = [
        None,
        Some(Fact::DeadlinePassed),
        Some(Fact::OrderCancelled {
            reason: "customer".into(),
        }),
    ];
    for method in [PaymentMethod::Balance, PaymentMethod::External] {
        for refused_step in forward.iter().map(Some).chain([None]) {
            for fact in &facts {
                for at_answer in 0..8 {
                    let refuse = |step: &Step| Some(step) == refused_step;
                    let interrupt = fact.clone().map(|fact| (at_answer, fact));
                    simulate(method, &refuse, interrupt);
                }
            }
        }
    }
}

#[test]
fn with_nothing_refused_every_checkout_completes_and_may_then_be_refunded() {
    for method in [PaymentMethod::Balance, PaymentMethod::External] {
        let state = simulate(method, &|_| false, None);
        assert_eq!(state.phase, Phase::Completed);
    }
}
