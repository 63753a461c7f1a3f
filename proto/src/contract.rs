//! Conventions of the query wire that are not in the `.proto` files: the names both sides of a
//! call agree on outside the messages. The query service writes them and the HTTP gateway reads
//! them, and both import them from here, so they cannot drift apart.

use std::time::Duration;

/// gRPC metadata key (a trailer) whose value says why a query failed when the code alone does
/// not: [`NOT_YET_CONSISTENT`] on an `UNAVAILABLE` from the consistency wait.
pub const ERROR_REASON: &str = "x-error-reason";

/// The [`ERROR_REASON`] of a read model that had not reached the requested consistency token
/// in time (the write did happen: retry the read); also the prefix, followed by `:`, of such a
/// status's message, for when a proxy drops the trailer.
pub const NOT_YET_CONSISTENT: &str = "not_yet_consistent";

/// How long a query waits, by default, for a read model to reach a consistency token before
/// answering [`NOT_YET_CONSISTENT`]. The query service's configuration defaults to it, and the
/// HTTP gateway's deadline for query calls must exceed it, or every such wait would end as a
/// timeout instead.
pub const DEFAULT_CONSISTENCY_WAIT: Duration = Duration::from_millis(DEFAULT_CONSISTENCY_WAIT_MS);

/// [`DEFAULT_CONSISTENCY_WAIT`] in milliseconds, the unit of `APP_QUERY__CONSISTENCY_WAIT_MS`.
pub const DEFAULT_CONSISTENCY_WAIT_MS: u64 = 2000;
