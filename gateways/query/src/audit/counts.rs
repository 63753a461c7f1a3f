//! How many events of each type (or category) were recorded per time bucket: one range of
//! `events_time_idx` (`recorded_at` in UTC, with the type and category included). At most [`MAX_BUCKETS`] buckets per request,
//! which bounds the range a request may cover.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;

use super::{AuditError, TimeRange};

/// Most buckets one request may span.
pub const MAX_BUCKETS: i64 = 1000;

/// The width of a bucket (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day.
    Day,
}

impl Bucket {
    /// `minute`, `hour` or `day`.
    pub fn parse(name: &str) -> Result<Self, AuditError> {
        match name {
            "minute" => Ok(Self::Minute),
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            other => Err(AuditError::InvalidArgument(format!(
                "bucket must be minute, hour or day, got {other:?}"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    fn width(self) -> TimeDelta {
        match self {
            Self::Minute => TimeDelta::minutes(1),
            Self::Hour => TimeDelta::hours(1),
            Self::Day => TimeDelta::days(1),
        }
    }
}

/// What the counts are per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The event type.
    Type,
    /// The stream category.
    Category,
}

impl GroupBy {
    /// `type` (also the empty string) or `category`.
    pub fn parse(name: &str) -> Result<Self, AuditError> {
        match name {
            "" | "type" => Ok(Self::Type),
            "category" => Ok(Self::Category),
            other => Err(AuditError::InvalidArgument(format!(
                "group_by must be type or category, got {other:?}"
            ))),
        }
    }
}

/// One bucket's count of one key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    /// The bucket's start.
    pub bucket_start: DateTime<Utc>,
    /// The event type or the category.
    pub key: String,
    /// Events of that key recorded in the bucket.
    pub count: u64,
}

/// The counts in `range`, ordered by bucket then key; buckets without events are absent.
pub async fn count_events(
    conn: &mut PgConnection,
    range: TimeRange,
    bucket: Bucket,
    group_by: GroupBy,
) -> Result<Vec<Count>, AuditError> {
    let spanned = (range.to - range.from).num_seconds() / bucket.width().num_seconds();
    if spanned > MAX_BUCKETS {
        return Err(AuditError::InvalidArgument(format!(
            "the range spans {spanned} {} buckets, more than {MAX_BUCKETS}: narrow it or use a \
             wider bucket",
            bucket.name()
        )));
    }
    let rows: Vec<(DateTime<Utc>, String, i64)> = sqlx::query_as(sql(group_by))
        .bind(bucket.name())
        .bind(range.from)
        .bind(range.to)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(bucket_start, key, count)| Count {
            bucket_start,
            key,
            count: count as u64,
        })
        .collect())
}

/// The statement for `group_by` (`$1` the bucket, `$2`..`$3` the range; public for the plan
/// tests): buckets truncated in UTC whatever the session's time zone.
pub fn sql(group_by: GroupBy) -> &'static str {
    // `recorded_at AT TIME ZONE 'UTC'` is what `events_time_idx` indexes (see the migration).
    match group_by {
        GroupBy::Type => {
            "SELECT date_trunc($1, recorded_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, \
                    event_type AS key, count(*) \
             FROM events WHERE recorded_at AT TIME ZONE 'UTC' >= ($2::timestamptz AT TIME ZONE 'UTC') \
               AND recorded_at AT TIME ZONE 'UTC' < ($3::timestamptz AT TIME ZONE 'UTC') \
             GROUP BY 1, 2 ORDER BY 1, 2"
        }
        GroupBy::Category => {
            "SELECT date_trunc($1, recorded_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, \
                    category AS key, count(*) \
             FROM events WHERE recorded_at AT TIME ZONE 'UTC' >= ($2::timestamptz AT TIME ZONE 'UTC') \
               AND recorded_at AT TIME ZONE 'UTC' < ($3::timestamptz AT TIME ZONE 'UTC') \
             GROUP BY 1, 2 ORDER BY 1, 2"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_groupings_are_named() {
        assert_eq!(Bucket::parse("hour").unwrap(), Bucket::Hour);
        assert!(Bucket::parse("week").is_err());
        assert_eq!(GroupBy::parse("").unwrap(), GroupBy::Type);
        assert_eq!(GroupBy::parse("category").unwrap(), GroupBy::Category);
        assert!(GroupBy::parse("stream").is_err());
    }
}
