//! The load generator: virtual customers running storefront flows against the real gRPC
//! command services and the real HTTP read API, and a [`Report`] of what they saw.
//!
//! A run has two phases. **Setup**: an operator creates a catalogue of products with stock
//! (every fourth product is scarce, so sell-outs happen), [`LoadConfig::users`] customers are
//! registered with a balance, and the run waits until the read models show all of them.
//! **Timed phase**: each customer runs flows drawn with [`LoadConfig::weights`] (by default
//! browse 10, product detail 5, add to cart 2, view cart 3, checkout 1) — back to back (closed
//! loop), or flows start at a fixed [`LoadConfig::rate`] (open loop) — until
//! [`LoadConfig::duration`] has passed or the caller's `stop` future completes; flows in flight
//! then get [`LoadConfig::drain`] to finish.
//!
//! Every flow ends OK, as an **expected outcome** (an item out of stock, a cart limit, a cart
//! that changed under a checkout, a read not yet consistent, a purchase cancelled for
//! `out of stock` or `insufficient balance`; an `ABORTED` command is retried with the same
//! command id and counted as `conflict, retried`), or as an **error** of an [`ErrorKind`].
//! Errors of the kinds in [`LoadConfig::tolerate`] are counted as tolerated, all others as
//! unexpected ([`Report::unexpected`]). Every command the shop acknowledged is listed in
//! [`Report::acknowledged`], so a test can check that each has its events in the log.
//!
//! ```no_run
//! # async fn example(stack_ports: std::collections::BTreeMap<&'static str, u16>) -> anyhow::Result<()> {
//! use loadgen::{Endpoints, ErrorKind, LoadConfig};
//! let mut config = LoadConfig::for_endpoints(
//!     Endpoints::loopback(&stack_ports).expect("every role has a port"),
//!     loadgen::AuthSettings::development(),
//! );
//! config.duration = None; // until `stop`
//! config.tolerate = ErrorKind::during_faults();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let run = tokio::spawn(loadgen::run(config, async move { stopped.await.ok(); }));
//! // … kill and restart a process …
//! stop.send(()).ok();
//! let report = run.await??;
//! assert_eq!(report.unexpected, 0, "{report}");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod config;
mod driver;
mod error;
mod flows;
mod purchase;
mod recorder;
mod report;
mod rng;
mod setup;
mod shop;
mod stats;

use std::{future::Future, sync::Arc, time::Duration};

pub use config::{AuthSettings, Endpoints, Flow, LoadConfig, Weights};
pub use error::{ErrorKind, Failure, LoadError, code_name};
pub use report::{Acknowledged, ErrorCount, FlowReport, OutcomeCount, Purchases, Report};
pub use stats::Latency;

use crate::{
    driver::Plan,
    flows::Storefront,
    recorder::{Recorder, RunFacts},
    shop::Shop,
};

/// Open loop: a flow that starts more than this after its scheduled time counts as a late start
/// (the generator could not keep up with the rate it was asked for).
pub const LATE_START: Duration = Duration::from_millis(10);

/// Runs the setup phase, then the timed phase until `config.duration` has passed or `stop`
/// completes, whichever comes first; the report.
///
/// Fails only before the timed phase (an invalid configuration, a setup step refused or
/// unreachable); errors of the timed phase are counted in the report. Cancel-safe: dropping the
/// future stops the run (the report is then lost).
pub async fn run(config: LoadConfig, stop: impl Future<Output = ()>) -> Result<Report, LoadError> {
    config.validate()?;
    let recorder = Arc::new(Recorder::new(config.tolerate.clone()));
    let shop = Shop::new(&config, recorder.clone())?;
    let setup_started = tokio::time::Instant::now();
    let (items, customers) = setup::setup(&shop, &config).await?;
    let setup = setup_started.elapsed();
    recorder.begin_timed();
    let storefront = Arc::new(Storefront {
        shop,
        items,
        settle_timeout: config.settle_timeout,
    });
    let plan = Plan {
        weights: config.weights.clone(),
        seed: config.seed,
        rate: config.rate,
        drain: config.drain,
    };
    let duration = config.duration;
    let stop = async move {
        tokio::select! {
            () = stop => {}
            () = async {
                match duration {
                    Some(duration) => tokio::time::sleep(duration).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    };
    let elapsed = driver::drive(storefront, customers, plan, stop).await;
    Ok(recorder.report(RunFacts {
        users: config.users,
        rate: config.rate,
        setup,
        elapsed,
    }))
}
