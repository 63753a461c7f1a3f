//! After `Checkout` was acknowledged: following the purchase over
//! `GET /api/v1/orders/{id}/checkout` until its checkout is final, and what its end means
//! (completed; cancelled for a reason a healthy shop gives; anything else is an error).

use std::time::Duration;

use aggregates::checkout::{INSUFFICIENT_BALANCE, OUT_OF_STOCK};
use serde_json::Value;
use tokio::{sync::watch, time::Instant};
use uuid::Uuid;

use crate::{
    error::{ErrorKind, Failure},
    flows::Storefront,
    recorder::PurchaseEnd,
    setup::Customer,
};

/// How often a purchase's outcome is read while it is followed.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);

impl Storefront {
    /// Reads order `order`'s checkout until it is final, the settle timeout passes or the run
    /// stops.
    pub async fn follow(
        &self,
        customer: &Customer,
        order: Uuid,
        mut stopped: watch::Receiver<bool>,
    ) -> PurchaseEnd {
        let started = Instant::now();
        let deadline = started + self.settle_timeout;
        let path = format!("/orders/{order}/checkout");
        let mut last = "not started".to_owned();
        let poll = async {
            loop {
                match self.shop.get(&path, &customer.token, None).await {
                    Ok(checkout) => {
                        if let Some(end) = purchase_end(&checkout, started.elapsed()) {
                            return end;
                        }
                        last = checkout["status"].as_str().unwrap_or("?").to_owned();
                    }
                    // Not started yet, or the read side is restarting: ask again.
                    Err(failure)
                        if matches!(
                            failure.kind,
                            ErrorKind::Http(404 | 502 | 503 | 504)
                                | ErrorKind::HttpConnect
                                | ErrorKind::Timeout
                        ) => {}
                    Err(failure) => return PurchaseEnd::Failed(failure),
                }
                if Instant::now() + FOLLOW_EVERY > deadline {
                    let reason = format!("not final within the settle timeout; last seen {last}");
                    return PurchaseEnd::Failed(Failure::new(ErrorKind::Unsettled, &reason));
                }
                tokio::time::sleep(FOLLOW_EVERY).await;
            }
        };
        tokio::select! {
            end = poll => end,
            _ = stopped.wait_for(|&stop| stop) => PurchaseEnd::Unfollowed,
        }
    }
}

/// The end of a purchase its checkout (as `GET /orders/{id}/checkout` shows it) has reached;
/// `None` while it runs.
pub fn purchase_end(checkout: &Value, settle: Duration) -> Option<PurchaseEnd> {
    let reason = checkout["reason"].as_str().unwrap_or("");
    match checkout["status"].as_str()? {
        "completed" => Some(PurchaseEnd::Completed(settle)),
        "cancelled" if reason == OUT_OF_STOCK || reason == INSUFFICIENT_BALANCE => {
            Some(PurchaseEnd::Cancelled(reason.to_owned(), settle))
        }
        status @ ("cancelled" | "refunded") => Some(PurchaseEnd::Failed(Failure::new(
            ErrorKind::Purchase,
            &format!("{status}: {reason}"),
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_purchase_ends_when_its_checkout_is_final() {
        let settle = Duration::from_millis(5);
        let end = |checkout| purchase_end(&checkout, settle);
        assert_eq!(end(json!({"status": "running"})), None);
        assert_eq!(
            end(json!({"status": "compensating", "reason": OUT_OF_STOCK})),
            None
        );
        assert_eq!(
            end(json!({"status": "completed"})),
            Some(PurchaseEnd::Completed(settle))
        );
        assert_eq!(
            end(json!({"status": "cancelled", "reason": INSUFFICIENT_BALANCE})),
            Some(PurchaseEnd::Cancelled(
                INSUFFICIENT_BALANCE.to_owned(),
                settle
            ))
        );
        assert!(matches!(
            end(json!({"status": "cancelled", "reason": "deadline passed"})),
            Some(PurchaseEnd::Failed(Failure {
                kind: ErrorKind::Purchase,
                ..
            }))
        ));
    }
}
