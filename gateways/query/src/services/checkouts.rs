//! `CheckoutQueries` over the `checkouts` read model: one order's checkout (a `get_*` query of
//! the `lookup` module: the order's customer or an admin) and the stuck ones (admins): those
//! the process manager still drives (`running`, `compensating`, `refunding`) whose deadline is
//! more than `checkout.stuck_after_secs` ago (`docs/checkout.md`).

use chrono::{DateTime, TimeDelta, Utc};
use projections::read_models::checkouts;
use proto::query::{self, checkout_queries_server::CheckoutQueries};
use tonic::{Request, Response, Status};

use super::{QueryServices, cursor, next_cursor, page_size};
use crate::{
    consistency::{ReadModel, Token},
    convert,
    error::QueryError,
};

/// The deadlines before which a checkout still driven at `now` is stuck: `now - stuck_after`.
fn overdue_before(now: DateTime<Utc>, stuck_after: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(stuck_after)
        .ok()
        .and_then(|after| now.checked_sub_signed(after))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[tonic::async_trait]
impl CheckoutQueries for QueryServices {
    async fn get_checkout(
        &self,
        request: Request<query::GetCheckoutRequest>,
    ) -> Result<Response<query::Checkout>, Status> {
        self.lookup(request).await
    }

    async fn list_stuck_checkouts(
        &self,
        request: Request<query::ListStuckCheckoutsRequest>,
    ) -> Result<Response<query::ListStuckCheckoutsResponse>, Status> {
        let who = auth::caller(&request).map_err(QueryError::from)?.clone();
        who.require_admin().map_err(QueryError::from)?;
        let request = request.into_inner();
        let limit = page_size(request.limit)?;
        let after: Option<i64> = cursor(&request.cursor)?;
        let token = Token::from_request(request.consistency.as_ref())?;
        let state = &self.state;
        state.reach(ReadModel::Checkouts, token.as_ref()).await?;
        let before = overdue_before(Utc::now(), state.stuck_after);
        let page = checkouts::stuck(&state.pool, before, after, limit)
            .await
            .map_err(QueryError::from)?;
        Ok(Response::new(query::ListStuckCheckoutsResponse {
            checkouts: page.checkouts.iter().map(convert::checkout).collect(),
            next_cursor: next_cursor(page.next),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_checkout_is_stuck_once_its_deadline_is_stuck_after_behind_now() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let before = overdue_before(now, Duration::from_secs(60));
        assert_eq!(before.to_rfc3339(), "2026-12-06T09:59:00+00:00");
        assert_eq!(overdue_before(now, Duration::ZERO), now);
        assert_eq!(
            overdue_before(now, Duration::from_secs(u64::MAX)),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
