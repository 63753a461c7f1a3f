//! The signal that stops a process: SIGINT (ctrl-c) or SIGTERM (what Kubernetes and
//! `scripts/stop` send), whichever comes first.

use tracing::{info, warn};

/// Completes when the process receives SIGINT or SIGTERM, and logs which one.
///
/// A signal whose handler cannot be installed is logged and not waited for: the other one still
/// stops the process (a failed registration never stops it by itself).
pub async fn signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!(signal = "SIGINT", "shutting down"),
        () = terminate => info!(signal = "SIGTERM", "shutting down"),
    }
}
