//! Stream versions and `$all` positions.

use std::fmt;

/// What the caller believes about a stream's version before an append (EventStoreDB's four
/// modes). The first event of a stream has version 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check: append at the end, whatever it is. Never conflicts.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("stream exists"),
            Self::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// A stream's actual version: the version of its last event, or no stream at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentVersion {
    /// The stream has no events.
    NoStream,
    /// The stream's last event has this version.
    At(u64),
}

impl CurrentVersion {
    pub(crate) fn from_db(max_version: Option<i64>) -> Self {
        match max_version {
            None => Self::NoStream,
            Some(v) => Self::At(v as u64),
        }
    }

    /// Whether `expected` holds for a stream at this version.
    pub fn satisfies(self, expected: ExpectedVersion) -> bool {
        match (expected, self) {
            (ExpectedVersion::Any, _) => true,
            (ExpectedVersion::NoStream, Self::NoStream) => true,
            (ExpectedVersion::StreamExists, Self::At(_)) => true,
            (ExpectedVersion::Exact(e), Self::At(v)) => e == v,
            _ => false,
        }
    }
}

impl fmt::Display for CurrentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStream => f.write_str("no stream"),
            Self::At(v) => write!(f, "{v}"),
        }
    }
}

/// A point in the gap-safe `$all` order: `(transaction id, global position)`.
///
/// `$all` readers and tailers deliver events in this order and checkpoint this pair, not the
/// position alone (see the crate docs for why). Pairs compare lexicographically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AllPosition {
    /// PostgreSQL 64-bit transaction id (`xid8`) of the appending transaction.
    pub tx_id: u64,
    /// Global position of the event.
    pub position: u64,
}

impl AllPosition {
    /// Before the first event: reading from here returns the whole log.
    pub const START: Self = Self {
        tx_id: 0,
        position: 0,
    };
}

impl fmt::Display for AllPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tx_id, self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_expected_version_mode_matches_only_its_states() {
        use CurrentVersion::At;
        use ExpectedVersion::{Any, Exact, StreamExists};
        let none = CurrentVersion::NoStream;
        assert!(none.satisfies(Any) && At(3).satisfies(Any));
        assert!(none.satisfies(ExpectedVersion::NoStream));
        assert!(!At(0).satisfies(ExpectedVersion::NoStream));
        assert!(At(0).satisfies(StreamExists) && !none.satisfies(StreamExists));
        assert!(At(4).satisfies(Exact(4)) && !At(5).satisfies(Exact(4)));
        assert!(!none.satisfies(Exact(0)));
    }

    #[test]
    fn all_positions_order_by_transaction_then_position() {
        let a = AllPosition {
            tx_id: 10,
            position: 99,
        };
        let b = AllPosition {
            tx_id: 11,
            position: 5,
        };
        assert!(a < b && AllPosition::START < a);
    }
}
