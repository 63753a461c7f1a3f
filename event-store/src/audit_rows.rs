//! Reading events with SQL of one's own (the audit queries of the query side): the column list
//! every read of this crate selects, and the row decoding they all use, so that an event read
//! elsewhere is exactly the [`RecordedEvent`] the store's own reads return.

use sqlx::postgres::PgRow;

use crate::{RecordedEvent, StoreError};

/// The columns to select from `events` (unqualified, in the order [`decode_event_row`] expects),
/// e.g. `format!("SELECT {EVENT_COLUMNS} FROM events WHERE ...")`.
pub const EVENT_COLUMNS: &str = crate::read::COLUMNS;

/// Decodes a row selected with [`EVENT_COLUMNS`]. Metadata that does not fit
/// [`crate::EventMetadata`] decodes as empty metadata (the event stays readable); a malformed
/// stream id is an error.
pub fn decode_event_row(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    crate::read::decode(row)
}
