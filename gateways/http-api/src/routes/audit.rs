//! The audit trail of the event log (issue 14): `GET /api/v1/admin/audit/…`, admins only, each
//! route one call of `commerce.audit.v1.AuditQueries` (`proto/audit.proto`), answered with its
//! message as JSON.
//!
//! | route | rpc |
//! |---|---|
//! | `/streams/{stream_id}/events?direction=&from=&limit=&cursor=` | `GetStreamHistory` |
//! | `/correlations/{correlation_id}` | `GetCausalChain` |
//! | `/events/by-actor?actor=&from=&to=&limit=&cursor=` | `ListEventsByActor` |
//! | `/events/by-type?type=&from=&to=&limit=&cursor=` | `ListEventsByType` |
//! | `/counts?bucket=&by=&from=&to=` | `CountEvents` |
//! | `/streams/{stream_id}/state?version=` or `?at=` | `GetAggregateState` |
//! | `/customers/{customer_id}/events?limit=&cursor=` | `ListSubjectEvents` |
//!
//! Actor and type are two routes, not one with two optional filters, because they are two rpcs
//! with their own required field: the document then says exactly which parameters each needs.
//!
//! Every route takes [`AdminContext`] first: 401 without a valid token, 403 for any caller but
//! an admin, before the parameters are looked at and before any gRPC call. Then the parameters
//! are checked as the service would (400 naming the parameter), so a malformed request costs no
//! call. The audit reads the log itself, which already holds any write a command acknowledged:
//! an `X-Consistency-Token` is checked like everywhere, and always already satisfied.

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::request::Parts,
};
use chrono::DateTime;
use proto::audit::{
    AggregateState, CountEventsRequest, CountEventsResponse, Direction, EventPage,
    GetAggregateStateRequest, GetCausalChainRequest, GetCausalChainResponse,
    GetStreamHistoryRequest, GetStreamHistoryResponse, ListEventsByActorRequest,
    ListEventsByTypeRequest, ListSubjectEventsRequest,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ApiQuery, ReadContext},
    params::{self, Page, given},
    state::AppState,
};

/// Largest page of the audit queries (`proto/audit.proto`: `limit` is 1..=500).
pub const MAX_LIMIT: u32 = 500;
/// Longest stream id the event log takes.
const MAX_STREAM_ID_LEN: usize = 256;
/// Longest category of a stream id.
const MAX_CATEGORY_LEN: usize = 64;
/// Longest actor asked for.
const MAX_ACTOR_LEN: usize = 256;
/// Longest event type asked for.
const MAX_EVENT_TYPE_LEN: usize = 128;
/// Longest RFC 3339 time taken (the longest real one, nanoseconds and an offset, has 35).
const MAX_TIME_LEN: usize = 64;

/// A [`ReadContext`] of an admin. Taken first by every audit handler, so that extractors run in
/// order and both refusals come before the path and the query are parsed.
pub struct AdminContext(pub ReadContext);

impl FromRequestParts<AppState> for AdminContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let context = ReadContext::from_request_parts(parts, state).await?;
        context.require_admin()?;
        Ok(Self(context))
    }
}

/// Which way a stream's history is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum HistoryDirection {
    /// Oldest first, from `from` (default 0) upwards.
    Forward,
    /// Newest first, from `from` (default the last event) downwards.
    Backward,
}

/// The width of a counting bucket (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CountBucket {
    /// A minute.
    Minute,
    /// An hour.
    Hour,
    /// A day.
    Day,
}

/// What the counts are per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CountBy {
    /// Per event type.
    Type,
    /// Per stream category.
    Category,
}

/// The parameters of a stream's history.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `forward` (oldest first; the default) or `backward` (newest first).
    #[param(value_type = Option<HistoryDirection>, inline)]
    pub direction: Option<String>,
    /// The version the first page starts at, inclusive; ignored with a `cursor`.
    #[param(value_type = Option<u64>, minimum = 0)]
    pub from: Option<String>,
    /// Page size, 1 to 500; 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (same stream and direction): `f` (forward) or `b`
    /// (backward) and a version.
    #[param(max_length = 1024, pattern = "^[fb][0-9]{1,19}$")]
    pub cursor: Option<String>,
}

/// The parameters of the events of one actor in a time range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActorParams {
    /// As recorded in `metadata.actor`: a customer id, `admin:<name>` or a service's name.
    #[param(value_type = String, required = true, min_length = 1, max_length = 256, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$")]
    pub actor: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = String, format = DateTime, required = true, max_length = 64)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; not before `from`.
    #[param(value_type = String, format = DateTime, required = true, max_length = 64)]
    pub to: Option<String>,
    /// Page size, 1 to 500; 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (same actor and range): `<microseconds>.<position>`.
    #[param(max_length = 1024, pattern = r"^[0-9]{1,16}\.[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// The parameters of the events of one type in a time range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeParams {
    /// The event type, e.g. `OrderPlaced`.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = String, required = true, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$")]
    pub event_type: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = String, format = DateTime, required = true, max_length = 64)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; not before `from`.
    #[param(value_type = String, format = DateTime, required = true, max_length = 64)]
    pub to: Option<String>,
    /// Page size, 1 to 500; 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (same type and range): `<microseconds>.<position>`.
    #[param(max_length = 1024, pattern = r"^[0-9]{1,16}\.[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// The parameters of the counts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountParams {
    /// The bucket width; at most 1000 buckets in the range (more is a 400).
    #[param(value_type = CountBucket, required = true, inline)]
    pub bucket: Option<String>,
    /// Counts per event `type` (the default) or per stream `category`.
    #[param(value_type = Option<CountBy>, inline)]
    pub by: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = String, format = DateTime, required = true, max_length = 64)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; not before `from`.
    #[param(value_type = String, format = DateTime, required = true, max_length = 64)]
    pub to: Option<String>,
}

/// The parameters of an aggregate's state: at most one of `version` and `at`; neither for now.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StateParams {
    /// Fold the events up to and including this version.
    #[param(value_type = Option<u64>, minimum = 0)]
    pub version: Option<String>,
    /// Fold the events recorded at or before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, max_length = 64)]
    pub at: Option<String>,
}

/// The parameters of a data-subject request: a page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubjectParams {
    /// Page size, 1 to 500; 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (same customer): a position.
    #[param(max_length = 1024, pattern = "^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// A stream id as the event log takes it: `<category>-<id>`, the category `[a-z][a-z0-9_]*`
/// of at most 64 bytes, the id without whitespace or control characters, at most 256 bytes.
pub fn stream_id(value: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::invalid("stream_id", "must be <category>-<id>, e.g. order-<uuid>");
    let (category, id) = value.split_once('-').ok_or_else(invalid)?;
    let category_ok = category.len() <= MAX_CATEGORY_LEN
        && category.starts_with(|c: char| c.is_ascii_lowercase())
        && category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let id_ok = !id.is_empty() && !id.chars().any(|c| c.is_control() || c.is_whitespace());
    if value.len() > MAX_STREAM_ID_LEN || !category_ok || !id_ok {
        return Err(invalid());
    }
    Ok(value.to_owned())
}

/// A required text parameter of at most `max` characters, none of them a control character.
fn text(field: &str, value: Option<&str>, max: usize) -> Result<String, ApiError> {
    let value = given(value).ok_or_else(|| ApiError::invalid(field, "is required"))?;
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            &format!("must be 1 to {max} characters, none a control character"),
        ));
    }
    Ok(value.to_owned())
}

/// An RFC 3339 time, passed on as it was written once it parses.
fn time(field: &str, value: &str) -> Result<String, ApiError> {
    Some(value)
        .filter(|value| value.len() <= MAX_TIME_LEN)
        .filter(|value| DateTime::parse_from_rfc3339(value).is_ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::invalid(field, "must be an RFC 3339 time, e.g. 2026-12-07T10:00:00Z")
        })
}

/// The required half-open range `[from, to)`, `from` not after `to`.
fn range(from: Option<&str>, to: Option<&str>) -> Result<(String, String), ApiError> {
    let from = given(from).ok_or_else(|| ApiError::invalid("from", "is required"))?;
    let to = given(to).ok_or_else(|| ApiError::invalid("to", "is required"))?;
    let (from, to) = (time("from", from)?, time("to", to)?);
    let instant = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.to_utc())
    };
    if instant(&from) > instant(&to) {
        return Err(ApiError::invalid("from", "must not be after to"));
    }
    Ok((from, to))
}

/// A version: a decimal `u64`, digits only.
fn version(field: &str, value: &str) -> Result<u64, ApiError> {
    Some(value)
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| ApiError::invalid(field, "must be a version, an unsigned 64-bit integer"))
}

/// `limit` 1..=500 and `cursor`.
fn page(limit: Option<&str>, cursor: Option<&str>) -> Result<Page, ApiError> {
    params::page_up_to(limit, cursor, MAX_LIMIT)
}

/// A stream's events, a page at a time, either way.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/streams/{stream_id}/events",
    tag = "audit",
    params(
        ("stream_id" = String, Path, description = "`<category>-<id>`, e.g. `order-<uuid>`; at most 256 bytes", max_length = 256, pattern = r"^[a-z][a-z0-9_]{0,63}-[^\s\x00-\x1F\x7F-\x9F]+$"),
        HistoryParams,
    ),
    responses(
        (status = 200, description = "A page of the stream's events in the direction asked, and its current version; an empty `next_cursor` marks the last page", body = GetStreamHistoryResponse),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "The stream has no events", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_stream_history", skip_all)]
pub async fn stream_history(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryParams>,
) -> Result<Json<GetStreamHistoryResponse>, ApiError> {
    let stream_id = stream_id(&stream)?;
    let direction = match given(query.direction.as_deref()) {
        None => Direction::Unspecified,
        Some("forward") => Direction::Forward,
        Some("backward") => Direction::Backward,
        Some(_) => {
            return Err(ApiError::invalid(
                "direction",
                "must be forward or backward",
            ));
        }
    };
    let from_version = given(query.from.as_deref())
        .map(|from| version("from", from))
        .transpose()?;
    let page = page(query.limit.as_deref(), query.cursor.as_deref())?;
    let request = GetStreamHistoryRequest {
        stream_id,
        direction: direction.into(),
        from_version,
        limit: page.limit,
        cursor: page.cursor,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().get_stream_history(request))
        .await?;
    Ok(Json(answer))
}

/// Every event of one user action across streams, as a tree by causation.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/correlations/{correlation_id}",
    tag = "audit",
    params(("correlation_id" = uuid::Uuid, Path, description = "The `correlation_id` the events share")),
    responses(
        (status = 200, description = "The chain depth first (each node followed by its children), the streams it touched, and whether it was cut at 2000 events", body = GetCausalChainResponse),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No event has this correlation id", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_causal_chain", skip_all)]
pub async fn causal_chain(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiPath(correlation_id): ApiPath<String>,
) -> Result<Json<GetCausalChainResponse>, ApiError> {
    let request = GetCausalChainRequest {
        correlation_id: params::uuid("correlation_id", &correlation_id)?,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().get_causal_chain(request))
        .await?;
    Ok(Json(answer))
}

/// What one actor did in a time range, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/events/by-actor",
    tag = "audit",
    params(ActorParams),
    responses(
        (status = 200, description = "A page of the actor's events by recorded time, then position; an empty `next_cursor` marks the last page", body = EventPage),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_events_by_actor", skip_all)]
pub async fn events_by_actor(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ActorParams>,
) -> Result<Json<EventPage>, ApiError> {
    let actor = text("actor", query.actor.as_deref(), MAX_ACTOR_LEN)?;
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let page = page(query.limit.as_deref(), query.cursor.as_deref())?;
    let request = ListEventsByActorRequest {
        actor,
        from,
        to,
        limit: page.limit,
        cursor: page.cursor,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().list_events_by_actor(request))
        .await?;
    Ok(Json(answer))
}

/// The events of one type in a time range, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/events/by-type",
    tag = "audit",
    params(TypeParams),
    responses(
        (status = 200, description = "A page of the type's events by recorded time, then position; an empty `next_cursor` marks the last page", body = EventPage),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_events_by_type", skip_all)]
pub async fn events_by_type(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TypeParams>,
) -> Result<Json<EventPage>, ApiError> {
    let event_type = text("type", query.event_type.as_deref(), MAX_EVENT_TYPE_LEN)?;
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let page = page(query.limit.as_deref(), query.cursor.as_deref())?;
    let request = ListEventsByTypeRequest {
        event_type,
        from,
        to,
        limit: page.limit,
        cursor: page.cursor,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().list_events_by_type(request))
        .await?;
    Ok(Json(answer))
}

/// How many events of each type (or category) were recorded per bucket in a time range.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/counts",
    tag = "audit",
    params(CountParams),
    responses(
        (status = 200, description = "The counts by bucket, then key; buckets without events are absent", body = CountEventsResponse),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_counts", skip_all)]
pub async fn counts(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CountParams>,
) -> Result<Json<CountEventsResponse>, ApiError> {
    let bucket = match given(query.bucket.as_deref()) {
        Some(bucket @ ("minute" | "hour" | "day")) => bucket.to_owned(),
        _ => return Err(ApiError::invalid("bucket", "must be minute, hour or day")),
    };
    let group_by = match given(query.by.as_deref()) {
        None => String::new(),
        Some(by @ ("type" | "category")) => by.to_owned(),
        Some(_) => return Err(ApiError::invalid("by", "must be type or category")),
    };
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let request = CountEventsRequest {
        bucket,
        from,
        to,
        group_by,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().count_events(request))
        .await?;
    Ok(Json(answer))
}

/// An aggregate's state at a version, at a time, or now, folded from its events by the domain.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/streams/{stream_id}/state",
    tag = "audit",
    params(
        // Only an aggregate's category has a state to fold (the query service refuses any other
        // with 400); a test checks the pattern's categories against the aggregates'.
        ("stream_id" = String, Path, description = "An aggregate's stream: `customer-`, `product-`, `cart-`, `order-`, `payment-` or `checkout-<id>`; at most 256 bytes", max_length = 256, pattern = r"^(customer|product|cart|order|payment|checkout)-[^\s\x00-\x1F\x7F-\x9F]+$"),
        StateParams,
    ),
    responses(
        (status = 200, description = "The state (`state`, a JSON text) after the last event folded, its version and time", body = AggregateState),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "The stream has no event by that version or time", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_aggregate_state", skip_all)]
pub async fn aggregate_state(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    ApiQuery(query): ApiQuery<StateParams>,
) -> Result<Json<AggregateState>, ApiError> {
    let stream_id = stream_id(&stream)?;
    let (version, at) = (given(query.version.as_deref()), given(query.at.as_deref()));
    if version.is_some() && at.is_some() {
        return Err(ApiError::invalid("version", "and at exclude each other"));
    }
    let request = GetAggregateStateRequest {
        stream_id,
        version: version.map(|v| self::version("version", v)).transpose()?,
        at: at.map(|at| time("at", at)).transpose()?,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().get_aggregate_state(request))
        .await?;
    Ok(Json(answer))
}

/// Every event about one customer, in log order: for a data-subject request.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/customers/{customer_id}/events",
    tag = "audit",
    params(
        ("customer_id" = uuid::Uuid, Path, description = "The customer's id"),
        SubjectParams,
    ),
    responses(
        (status = 200, description = "A page of the events of the customer's streams, naming them, or caused by them; an empty `next_cursor` marks the last page", body = EventPage),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "audit_subject_events", skip_all)]
pub async fn subject_events(
    AdminContext(context): AdminContext,
    State(state): State<AppState>,
    ApiPath(customer_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SubjectParams>,
) -> Result<Json<EventPage>, ApiError> {
    let customer_id = params::uuid("customer_id", &customer_id)?;
    let page = page(query.limit.as_deref(), query.cursor.as_deref())?;
    let request = ListSubjectEventsRequest {
        customer_id,
        limit: page.limit,
        cursor: page.cursor,
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.audit.clone().list_subject_events(request))
        .await?;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_are_checked_as_the_event_log_checks_them() {
        for good in [
            "order-5b0c8a52-3c1e-4d0e-9a55-4b7d2f1f0a11",
            "a-x",
            "cart_v2-42",
        ] {
            assert_eq!(stream_id(good).unwrap(), good);
        }
        let long = format!("order-{}", "x".repeat(251));
        for bad in [
            "",
            "order",
            "-42",
            "Order-42",
            "1order-42",
            "order-",
            "order-4 2",
            "order-4\u{0}2",
            &long,
        ] {
            assert!(stream_id(bad).is_err(), "{bad:?}");
        }
        assert!(stream_id(&format!("{}-1", "a".repeat(65))).is_err());
    }

    #[test]
    fn times_are_rfc3339_and_a_range_runs_forward() {
        assert_eq!(
            time("at", "2026-12-07T10:00:00+01:00").unwrap(),
            "2026-12-07T10:00:00+01:00"
        );
        for bad in [
            "",
            "yesterday",
            "2026-12-07",
            "2026-12-07T10:00:00",
            "1796630400",
        ] {
            assert!(time("at", bad).is_err(), "{bad:?}");
        }
        assert!(
            range(
                Some("2026-12-07T10:00:00+01:00"),
                Some("2026-12-07T09:00:00Z")
            )
            .is_ok()
        );
        let error = range(Some("2026-12-08T00:00:00Z"), Some("2026-12-07T00:00:00Z")).unwrap_err();
        assert_eq!(error.to_string(), "from must not be after to");
        assert_eq!(
            range(None, Some("2026-12-07T00:00:00Z"))
                .unwrap_err()
                .to_string(),
            "from is required"
        );
    }

    #[test]
    fn versions_are_digits_only() {
        assert_eq!(version("from", "0").unwrap(), 0);
        assert_eq!(version("from", &u64::MAX.to_string()).unwrap(), u64::MAX);
        for bad in ["", "+1", "-1", "1.0", "18446744073709551616", "x"] {
            assert!(version("from", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn actors_and_types_are_bounded_text_without_control_characters() {
        assert_eq!(text("actor", Some("admin:ops"), 256).unwrap(), "admin:ops");
        assert!(text("actor", None, 256).is_err());
        assert!(text("actor", Some(""), 256).is_err());
        assert!(text("actor", Some("a\u{0}b"), 256).is_err());
        assert!(text("type", Some(&"T".repeat(129)), 128).is_err());
    }
}
