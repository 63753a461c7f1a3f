//! Every event about one customer, for a data-subject request: their own streams
//! (`customer-<id>`, `cart-<id>`), every event whose payload names them (`customer_id` at the
//! top level: orders, payments, checkouts), and every event they caused as the actor. In log
//! order, paged by position. The three conditions are three index scans of at most a page each
//! (`events_stream_version_key`, `events_customer_idx`, `events_actor_time_idx`): the cost is the
//! customer's own events, not the log's.

use aggregates::{Aggregate, Cart, Customer, CustomerId};
use event_store::EVENT_COLUMNS;
use sqlx::PgConnection;

use super::{AuditError, Page, decode_all, malformed_cursor, split_page};

/// The statement: `$1` the customer's streams, `$2` their id, after position `$3`, page `$4`
/// (public for the plan tests). Three position-ordered branches, each at most a page and each
/// one index range, merged without duplicates: the customer's streams, the payloads naming them (an ordered walk
/// of `events_customer_idx`), and what they did as the actor (`position + 0`: sorted after
/// `events_actor_time_idx`; ordering by the bare position would let the generic plan walk the
/// whole log by its primary key, filtering — measured 460 ms on 1M events instead of 0.3 ms).
pub fn sql() -> String {
    format!(
        "SELECT * FROM ( \
           (SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ANY($1) AND position > $3 \
            ORDER BY position LIMIT $4) \
           UNION \
           (SELECT {EVENT_COLUMNS} FROM events WHERE data ->> 'customer_id' = $2 \
            AND position > $3 ORDER BY position LIMIT $4) \
           UNION \
           (SELECT {EVENT_COLUMNS} FROM events WHERE metadata ->> 'actor' = $2 \
            AND position > $3 ORDER BY position + 0 LIMIT $4)) page \
         ORDER BY position LIMIT $4"
    )
}

/// A page of `customer`'s events after `cursor` (a position; empty for the first page).
pub async fn subject_events(
    conn: &mut PgConnection,
    customer: CustomerId,
    cursor: &str,
    limit: u32,
) -> Result<Page, AuditError> {
    let after: i64 = match cursor {
        "" => 0,
        cursor => cursor
            .parse()
            .ok()
            .filter(|after| *after > 0)
            .ok_or_else(|| malformed_cursor(cursor))?,
    };
    let streams = vec![Customer::stream_id(&customer), Cart::stream_id(&customer)];
    let sql = sql();
    let rows = sqlx::query(&sql)
        .bind(streams)
        .bind(customer.to_string())
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(conn)
        .await?;
    let (events, more) = split_page(decode_all(&rows)?, limit);
    let next_cursor = match (more, events.last()) {
        (true, Some(last)) => Some(last.position.to_string()),
        _ => None,
    };
    Ok(Page {
        events,
        next_cursor,
    })
}
