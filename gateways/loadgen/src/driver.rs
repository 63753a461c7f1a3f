//! The timed phase: virtual customers running flows back to back (closed loop), or flows started
//! on a fixed schedule whatever happened to earlier ones (open loop); then the stop and the drain.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinSet, time::Instant};

use crate::{
    LATE_START,
    config::{Flow, Weights},
    flows::Storefront,
    recorder::PurchaseEnd,
    rng::Rng,
    setup::Customer,
};

/// How the timed phase runs.
pub struct Plan {
    /// The flow mix.
    pub weights: Weights,
    /// The run's seed.
    pub seed: u64,
    /// `Some(flows/s)`: open loop.
    pub rate: Option<f64>,
    /// How long flows in flight may finish after the stop.
    pub drain: Duration,
}

/// Runs the timed phase until `stop` completes; how long it took.
pub async fn drive(
    storefront: Arc<Storefront>,
    customers: Vec<Arc<Customer>>,
    plan: Plan,
    stop: impl Future<Output = ()>,
) -> Duration {
    let started = Instant::now();
    let (stopping, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    match plan.rate {
        None => {
            for (index, customer) in customers.into_iter().enumerate() {
                let rng = Rng::new(plan.seed, index as u64);
                tasks.spawn(closed_loop(
                    storefront.clone(),
                    customer,
                    plan.weights.clone(),
                    rng,
                    stopped.clone(),
                ));
            }
            stop.await;
        }
        Some(rate) => {
            tokio::select! {
                () = stop => {}
                () = open_loop(&storefront, &customers, &plan, rate, &stopped, &mut tasks) => {}
            }
        }
    }
    stopping.send_replace(true);
    let drained = tokio::time::timeout(plan.drain, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        storefront.shop.recorder.abandoned(tasks.len() as u64);
        tasks.shutdown().await;
    }
    started.elapsed()
}

/// One customer: a flow, then (after a checkout) its purchase followed to the end, then the next
/// flow, until the stop.
async fn closed_loop(
    storefront: Arc<Storefront>,
    customer: Arc<Customer>,
    weights: Weights,
    mut rng: Rng,
    stopped: watch::Receiver<bool>,
) {
    while !*stopped.borrow() {
        let Some(flow) = weights.pick(rng.next_u64()) else {
            return;
        };
        one_flow(
            &storefront,
            &customer,
            flow,
            &mut rng,
            Instant::now(),
            &stopped,
        )
        .await;
    }
}

/// Starts a flow every `1/rate` seconds, on the `k`-th customer for the `k`-th start, each in a
/// task of its own; never returns (the caller stops it).
async fn open_loop(
    storefront: &Arc<Storefront>,
    customers: &[Arc<Customer>],
    plan: &Plan,
    rate: f64,
    stopped: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    let start = Instant::now();
    let mut schedule = Rng::new(plan.seed, u64::MAX - 1);
    for k in 0u64.. {
        #[allow(clippy::cast_precision_loss)] // k stays far below 2^52
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due).await;
        let delay = Instant::now().saturating_duration_since(due);
        storefront.shop.recorder.started(delay, delay > LATE_START);
        let customer = customers[usize::try_from(k).unwrap_or(0) % customers.len()].clone();
        let Some(flow) = plan.weights.pick(schedule.next_u64()) else {
            return;
        };
        let mut rng = Rng::new(plan.seed ^ k, schedule.next_u64());
        let (storefront, stopped) = (storefront.clone(), stopped.clone());
        tasks.spawn(async move {
            one_flow(&storefront, &customer, flow, &mut rng, due, &stopped).await;
        });
        // Finished tasks are reaped as we go so the set holds only those in flight.
        while tasks.try_join_next().is_some() {}
    }
}

/// Runs `flow` for `customer`, records it with its latency since `since`, and follows the
/// purchase it placed, if any.
async fn one_flow(
    storefront: &Storefront,
    customer: &Customer,
    flow: Flow,
    rng: &mut Rng,
    since: Instant,
    stopped: &watch::Receiver<bool>,
) {
    let (ended, order) = storefront.run(flow, customer, rng).await;
    let recorder = &storefront.shop.recorder;
    recorder.finished(flow, ended, since.elapsed());
    if let Some(order) = order {
        let end = if *stopped.borrow() {
            PurchaseEnd::Unfollowed
        } else {
            storefront.follow(customer, order, stopped.clone()).await
        };
        if matches!(end, PurchaseEnd::Cancelled(..)) {
            customer.knowledge().clear_first = true;
        }
        recorder.purchase_ended(end);
    }
}
