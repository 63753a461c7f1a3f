//! Conventions of the query wire that are not in the `.proto` files: the names both sides of a
//! call agree on outside the messages. The query service writes them and the HTTP gateway reads
//! them, and both import them from here, so they cannot drift apart. (The consistency wait is a
//! setting, `query.consistency_wait_ms` in the `settings` crate, which also checks that the HTTP
//! gateway's deadline exceeds it.)

/// gRPC metadata key (a trailer) whose value says why a query failed when the code alone does
/// not: [`NOT_YET_CONSISTENT`] on an `UNAVAILABLE` from the consistency wait.
pub const ERROR_REASON: &str = "x-error-reason";

/// The [`ERROR_REASON`] of a read model that had not reached the requested consistency token
/// in time (the write did happen: retry the read); also the prefix, followed by `:`, of such a
/// status's message, for when a proxy drops the trailer.
pub const NOT_YET_CONSISTENT: &str = "not_yet_consistent";

/// gRPC metadata key (and HTTP header) of the request id: the HTTP gateway forwards its own with
/// every call, so one request can be followed from the gateway's log into the query service's.
pub const REQUEST_ID: &str = "x-request-id";

/// gRPC metadata key of the correlation id a client may send with a command (a UUID; a command
/// service mints one when it is absent): it ends up in every event's metadata.
pub const CORRELATION_ID: &str = "x-correlation-id";
