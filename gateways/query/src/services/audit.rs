//! `commerce.audit.v1.AuditQueries`: the audit queries of [`crate::audit`] over gRPC, for
//! admins only. Each call checks the caller first (no token: `UNAUTHENTICATED`; any role but
//! `admin`: `PERMISSION_DENIED`), then its arguments (`INVALID_ARGUMENT`), then reads through
//! the audit path ([`audit::begin`]: read-only, as `commerce_audit`).

use std::{future::Future, pin::Pin};

use event_store::{Direction, RecordedEvent, StreamId};
use proto::audit::{self as wire, audit_queries_server::AuditQueries};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{QueryServices, parse_id};
use crate::{
    audit::{
        self, AuditError, Page, TimeRange,
        chain::{self, Chain},
        counts::{self, Bucket, GroupBy},
        history::{self, HistoryRequest},
        range::{self, Filter},
        state::{self, At},
        subject,
    },
    error::QueryError,
};

/// Refuses every caller but an admin.
fn admin_only<T>(request: &Request<T>) -> Result<(), QueryError> {
    auth::caller(request)?.require_admin()?;
    Ok(())
}

fn stream_id(value: &str) -> Result<StreamId, QueryError> {
    StreamId::parse(value).map_err(|error| {
        QueryError::InvalidArgument(format!("stream_id {value:?} is malformed: {error}"))
    })
}

fn time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An event as the audit wire carries it.
pub fn event(event: &RecordedEvent) -> wire::AuditEvent {
    let meta = &event.metadata;
    wire::AuditEvent {
        position: event.position,
        stream_id: event.stream_id.to_string(),
        category: event.stream_id.category().to_owned(),
        version: event.version,
        event_id: event.event_id.to_string(),
        event_type: event.event_type.clone(),
        schema_version: u32::try_from(event.schema_version).unwrap_or_default(),
        recorded_at: time(event.recorded_at),
        data: event.data.to_string(),
        metadata: Some(wire::EventMetadata {
            correlation_id: meta.correlation_id.map(|id| id.to_string()),
            causation_id: meta.causation_id.map(|id| id.to_string()),
            actor: meta.actor.clone(),
            command_id: meta.command_id.map(|id| id.to_string()),
            command_fingerprint: meta.command_fingerprint.clone(),
            traceparent: meta.traceparent.clone(),
            extra: serde_json::Value::Object(meta.extra.clone()).to_string(),
        }),
    }
}

fn page(page: Page) -> wire::EventPage {
    wire::EventPage {
        events: page.events.iter().map(event).collect(),
        next_cursor: page.next_cursor.unwrap_or_default(),
    }
}

fn chain(chain: Chain) -> wire::GetCausalChainResponse {
    wire::GetCausalChainResponse {
        correlation_id: chain.correlation_id.to_string(),
        nodes: chain
            .nodes
            .iter()
            .map(|node| wire::ChainNode {
                event: Some(event(&node.event)),
                depth: node.depth,
                parent_event_id: node.parent_event_id.map(|id| id.to_string()),
                link: node.link.as_str().to_owned(),
            })
            .collect(),
        streams: chain.streams,
        truncated: chain.truncated,
    }
}

/// `future`, boxed as `Send`. The audit queries' futures hold borrowed arguments (the SQL, the
/// connection); proving them `Send` inside the `async_trait` future runs into rustc's
/// higher-ranked lifetime limitation ("implementation of `Send` is not general enough"); boxed
/// here, they are proven `Send` with concrete lifetimes.
fn boxed<'a, T>(
    future: impl Future<Output = Result<T, AuditError>> + Send + 'a,
) -> Pin<Box<dyn Future<Output = Result<T, AuditError>> + Send + 'a>> {
    Box::pin(future)
}

impl QueryServices {
    /// A connection on the audit path.
    async fn audit(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, QueryError> {
        Ok(boxed(audit::begin(&self.state.pool)).await?)
    }
}

#[tonic::async_trait]
impl AuditQueries for QueryServices {
    async fn get_stream_history(
        &self,
        request: Request<wire::GetStreamHistoryRequest>,
    ) -> Result<Response<wire::GetStreamHistoryResponse>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let stream = stream_id(&request.stream_id)?;
        let direction = match wire::Direction::try_from(request.direction) {
            Ok(wire::Direction::Unspecified | wire::Direction::Forward) => Direction::Forward,
            Ok(wire::Direction::Backward) => Direction::Backward,
            Err(_) => {
                return Err(QueryError::InvalidArgument(format!(
                    "unknown direction {}",
                    request.direction
                ))
                .into());
            }
        };
        let limit = audit::page_size(request.limit).map_err(QueryError::from)?;
        let mut tx = self.audit().await?;
        let history = boxed(history::stream_history(
            &mut tx,
            &stream,
            HistoryRequest {
                direction,
                from_version: request.from_version,
                cursor: &request.cursor,
                limit,
            },
        ))
        .await
        .map_err(QueryError::from)?;
        Ok(Response::new(wire::GetStreamHistoryResponse {
            events: history.events.iter().map(event).collect(),
            next_cursor: history.next_cursor.unwrap_or_default(),
            current_version: history.current_version,
        }))
    }

    async fn get_causal_chain(
        &self,
        request: Request<wire::GetCausalChainRequest>,
    ) -> Result<Response<wire::GetCausalChainResponse>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let correlation: Uuid = parse_id("correlation_id", &request.correlation_id)?;
        let mut tx = self.audit().await?;
        let found = boxed(chain::causal_chain(&mut tx, correlation))
            .await
            .map_err(QueryError::from)?;
        Ok(Response::new(chain(found)))
    }

    async fn list_events_by_actor(
        &self,
        request: Request<wire::ListEventsByActorRequest>,
    ) -> Result<Response<wire::EventPage>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let range = TimeRange::parse(&request.from, &request.to).map_err(QueryError::from)?;
        let limit = audit::page_size(request.limit).map_err(QueryError::from)?;
        let mut tx = self.audit().await?;
        let found = boxed(range::events_in_range(
            &mut tx,
            Filter::Actor(&request.actor),
            range,
            &request.cursor,
            limit,
        ))
        .await
        .map_err(QueryError::from)?;
        Ok(Response::new(page(found)))
    }

    async fn list_events_by_type(
        &self,
        request: Request<wire::ListEventsByTypeRequest>,
    ) -> Result<Response<wire::EventPage>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let range = TimeRange::parse(&request.from, &request.to).map_err(QueryError::from)?;
        let limit = audit::page_size(request.limit).map_err(QueryError::from)?;
        let mut tx = self.audit().await?;
        let found = boxed(range::events_in_range(
            &mut tx,
            Filter::EventType(&request.event_type),
            range,
            &request.cursor,
            limit,
        ))
        .await
        .map_err(QueryError::from)?;
        Ok(Response::new(page(found)))
    }

    async fn count_events(
        &self,
        request: Request<wire::CountEventsRequest>,
    ) -> Result<Response<wire::CountEventsResponse>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let range = TimeRange::parse(&request.from, &request.to).map_err(QueryError::from)?;
        let bucket = Bucket::parse(&request.bucket).map_err(QueryError::from)?;
        let group_by = GroupBy::parse(&request.group_by).map_err(QueryError::from)?;
        let mut tx = self.audit().await?;
        let found = boxed(counts::count_events(&mut tx, range, bucket, group_by))
            .await
            .map_err(QueryError::from)?;
        Ok(Response::new(wire::CountEventsResponse {
            counts: found
                .into_iter()
                .map(|count| wire::EventCount {
                    bucket_start: time(count.bucket_start),
                    key: count.key,
                    count: count.count,
                })
                .collect(),
        }))
    }

    async fn get_aggregate_state(
        &self,
        request: Request<wire::GetAggregateStateRequest>,
    ) -> Result<Response<wire::AggregateState>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let stream = stream_id(&request.stream_id)?;
        let at = match (request.version, request.at.as_deref()) {
            (None, None) => At::Latest,
            (Some(version), None) => At::Version(version),
            (None, Some(at)) => At::Time(audit::parse_time("at", at).map_err(QueryError::from)?),
            (Some(_), Some(_)) => {
                return Err(QueryError::InvalidArgument(
                    "give at most one of version and at".into(),
                )
                .into());
            }
        };
        let mut tx = self.audit().await?;
        let found = boxed(state::state_at(&mut tx, &stream, at))
            .await
            .map_err(QueryError::from)?;
        Ok(Response::new(wire::AggregateState {
            stream_id: found.stream_id,
            category: found.category,
            version: found.version,
            recorded_at: time(found.recorded_at),
            state: found.state.to_string(),
        }))
    }

    async fn list_subject_events(
        &self,
        request: Request<wire::ListSubjectEventsRequest>,
    ) -> Result<Response<wire::EventPage>, Status> {
        admin_only(&request)?;
        let request = request.into_inner();
        let customer = parse_id("customer_id", &request.customer_id)?;
        let limit = audit::page_size(request.limit).map_err(QueryError::from)?;
        let mut tx = self.audit().await?;
        let found = boxed(subject::subject_events(
            &mut tx,
            customer,
            &request.cursor,
            limit,
        ))
        .await
        .map_err(QueryError::from)?;
        Ok(Response::new(page(found)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_errors_keep_their_meaning_on_the_wire() {
        let status = Status::from(QueryError::from(AuditError::InvalidArgument("x".into())));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let status = Status::from(QueryError::from(AuditError::NotFound("x".into())));
        assert_eq!(status.code(), tonic::Code::NotFound);
        let status = Status::from(QueryError::from(AuditError::Corrupt("secret".into())));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
