//! The checkout story: seven checkouts of the process manager (`aggregates::checkout`), one in
//! each situation a reader cares about — completed, cancelled for want of stock, refunded,
//! stuck in each of the three phases the process manager still drives, and one running within
//! its deadline — decided by the aggregate and appended to a real log.
//!
//! Times are fixed ([`t`]), so every deadline but the fresh checkout's (fifty years on) has
//! passed long before any test runs.

use aggregates::{
    Checkout, CustomerId, OrderId, ProductId,
    checkout::{
        CheckoutCommand, CheckoutState, Fact, Outcome, ProductStock, Refusal, Step, pending,
    },
    payment::PaymentMethod,
    product::StockLine,
};
use chrono::{DateTime, Utc};

use super::{Log, Stream, id, story::eur, t};

/// The ids of the checkout story.
pub struct CheckoutStory {
    /// Buys `paid`, `out_of_stock`, `compensating`, `refunding`.
    pub alice: CustomerId,
    /// Buys `refunded`, `waiting`, `fresh`.
    pub bob: CustomerId,
    /// A product every checkout reserves.
    pub shoe: ProductId,
    /// A second product, out of stock for `out_of_stock`.
    pub jacket: ProductId,
    /// Balance, shoe: every step done, `completed`.
    pub paid: OrderId,
    /// Balance, shoe and jacket: the jacket refused, the shoe released, the order cancelled:
    /// `cancelled`, reason `out of stock`.
    pub out_of_stock: OrderId,
    /// External, jacket: paid by the provider's callback, then the order refunded (`changed my
    /// mind`): stock returned, provider refund confirmed: `refunded`.
    pub refunded: OrderId,
    /// External, shoe: charged, the provider's callback never came: `running`, deadline
    /// [`t`]`(40)`: stuck.
    pub waiting: OrderId,
    /// Balance, shoe: the deadline passed before the debit; the debit's answer never came:
    /// `compensating` (`deadline passed`), deadline [`t`]`(50)`: stuck.
    pub compensating: OrderId,
    /// Balance, jacket: paid, the order refunded (`damaged box`), stock returned, the payment's
    /// refund unanswered: `refunding`, deadline [`t`]`(60)`: stuck.
    pub refunding: OrderId,
    /// Balance, shoe: reserved, deadline fifty years on: `running`, not stuck.
    pub fresh: OrderId,
}

/// The deadline of [`CheckoutStory::fresh`]: fifty years after the story.
pub fn far_deadline() -> DateTime<Utc> {
    t(50 * 365 * 24 * 60)
}

/// A checkout being written: its stream and the minute of its next input.
struct Run {
    stream: Stream<Checkout>,
    minute: i64,
}

/// What a checkout buys: the order, its buyer, how they pay, how much (euro cents), which
/// products (one unit of one SKU each).
struct Buy<'a> {
    order_id: OrderId,
    customer_id: CustomerId,
    method: PaymentMethod,
    total: i64,
    products: &'a [ProductId],
}

impl Run {
    /// Starts the checkout of `buy` at minute `minute`, given up at `deadline`.
    async fn start(log: &mut Log, buy: Buy<'_>, minute: i64, deadline: DateTime<Utc>) -> Self {
        let mut stream = Stream::<Checkout>::new(&buy.order_id);
        let products = buy
            .products
            .iter()
            .map(|&product_id| ProductStock {
                product_id,
                items: vec![StockLine {
                    sku_id: id(),
                    quantity: 1,
                }],
            })
            .collect();
        let start = CheckoutCommand::Start {
            order_id: buy.order_id,
            customer_id: buy.customer_id,
            total: eur(buy.total),
            method: buy.method,
            products,
            deadline,
            at: t(minute),
        };
        stream.run(log, start).await;
        Self {
            stream,
            minute: minute + 1,
        }
    }

    fn at(&mut self) -> DateTime<Utc> {
        let at = t(self.minute);
        self.minute += 1;
        at
    }

    async fn reply(&mut self, log: &mut Log, step: Step, outcome: Outcome) {
        let at = self.at();
        let replied = CheckoutCommand::Replied { step, outcome, at };
        self.stream.run(log, replied).await;
    }

    async fn done(&mut self, log: &mut Log, step: Step) {
        self.reply(log, step, Outcome::Done).await;
    }

    async fn refuse(&mut self, log: &mut Log, step: Step, message: &str) {
        let outcome = Outcome::Refused {
            kind: Refusal::Rejected,
            message: message.to_owned(),
        };
        self.reply(log, step, outcome).await;
    }

    async fn notice(&mut self, log: &mut Log, fact: Fact) {
        let at = self.at();
        self.stream
            .run(log, CheckoutCommand::Notice { fact, at })
            .await;
    }

    /// The steps the process manager would send now.
    fn pending(&self) -> Vec<Step> {
        match self.stream.state() {
            CheckoutState::Started(details) => pending(details),
            CheckoutState::NotStarted => Vec::new(),
        }
    }

    /// Answers every pending step with done, as long as there are any.
    async fn until_quiet(&mut self, log: &mut Log) {
        loop {
            let steps = self.pending();
            if steps.is_empty() {
                return;
            }
            for step in steps {
                self.done(log, step).await;
            }
        }
    }
}

/// Writes the seven checkouts of `alice` and `bob` (see [`CheckoutStory`]) to `log`, in the
/// order of its fields.
pub async fn write(log: &mut Log, alice: CustomerId, bob: CustomerId) -> CheckoutStory {
    let s = CheckoutStory {
        alice,
        bob,
        shoe: id(),
        jacket: id(),
        paid: id(),
        out_of_stock: id(),
        refunded: id(),
        waiting: id(),
        compensating: id(),
        refunding: id(),
        fresh: id(),
    };
    let (balance, external) = (PaymentMethod::Balance, PaymentMethod::External);
    let buy = |order_id, customer_id, method, total, products| Buy {
        order_id,
        customer_id,
        method,
        total,
        products,
    };
    let (shoe_only, jacket_only, both) = (&[s.shoe][..], &[s.jacket][..], &[s.shoe, s.jacket][..]);
    let shoe = Step::Reserve { product_id: s.shoe };
    let jacket = Step::Reserve {
        product_id: s.jacket,
    };

    let order = buy(s.paid, alice, balance, 4_999, shoe_only);
    let mut paid = Run::start(log, order, 0, t(15)).await;
    paid.until_quiet(log).await;

    let order = buy(s.out_of_stock, alice, balance, 13_998, both);
    let mut out = Run::start(log, order, 10, t(25)).await;
    out.done(log, shoe).await;
    out.refuse(log, jacket, "only 0 of 1 available").await;
    out.until_quiet(log).await;

    let order = buy(s.refunded, bob, external, 8_999, jacket_only);
    let mut refunded = Run::start(log, order, 20, t(35)).await;
    refunded.until_quiet(log).await; // charged: waits for the provider
    refunded.notice(log, Fact::PaymentCaptured).await;
    refunded.until_quiet(log).await;
    let reason = "changed my mind".to_owned();
    refunded.notice(log, Fact::OrderRefunded { reason }).await;
    refunded.until_quiet(log).await; // provider refund sent: waits for its callback
    refunded.notice(log, Fact::PaymentRefunded).await;

    let order = buy(s.waiting, bob, external, 4_999, shoe_only);
    let mut waiting = Run::start(log, order, 30, t(40)).await;
    waiting.until_quiet(log).await;

    let order = buy(s.compensating, alice, balance, 4_999, shoe_only);
    let mut compensating = Run::start(log, order, 40, t(50)).await;
    for step in [shoe, Step::ConfirmOrder, Step::InitiatePayment] {
        compensating.done(log, step).await;
    }
    compensating.notice(log, Fact::DeadlinePassed).await;

    let order = buy(s.refunding, alice, balance, 8_999, jacket_only);
    let mut refunding = Run::start(log, order, 50, t(60)).await;
    refunding.until_quiet(log).await;
    let reason = "damaged box".to_owned();
    refunding.notice(log, Fact::OrderRefunded { reason }).await;
    let returned = Step::Return {
        product_id: s.jacket,
    };
    refunding.done(log, returned).await;

    let order = buy(s.fresh, bob, balance, 4_999, shoe_only);
    let mut fresh = Run::start(log, order, 60, far_deadline()).await;
    fresh.done(log, shoe).await;
    s
}
