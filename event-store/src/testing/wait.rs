//! Waiting on a condition with a deadline, for tests that watch another task or process get
//! somewhere: they poll what they expect instead of sleeping a fixed time and hoping. One helper
//! for every crate's tests, so each waits and fails the same way.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

/// How long [`poll_until`] and [`wait_until`] sleep between two looks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `probe` every [`POLL_INTERVAL`] until it yields a value, which it returns; `None` once
/// `deadline` passed without one. For a wait whose running out is no failure, or whose result
/// the test goes on to check.
pub async fn poll_until<T, F, Fut>(deadline: Instant, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until `condition` holds, polling every [`POLL_INTERVAL`]; panics naming `what` once
/// `deadline` passed without it.
pub async fn wait_until<F, Fut>(deadline: Instant, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let held = poll_until(deadline, || {
        let check = condition();
        async move { check.await.then_some(()) }
    })
    .await;
    assert!(held.is_some(), "timed out waiting: {what}");
}
