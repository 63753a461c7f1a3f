//! `commerce.audit.v1.AuditQueries` through a real `commerce-query` server over the projected
//! story's log: admins only (customer, service and missing tokens refused on every call),
//! malformed arguments `INVALID_ARGUMENT`, unknown streams `NOT_FOUND`, and the admin's answers.

use std::time::Duration;

use ::query::testing::{World, admin, assert_code, authed, customer, token};
use auth::ROLE_SERVICE;
use proto::audit::{self as wire, audit_queries_client::AuditQueriesClient};
use tonic::{Code, Request, Status, transport::Channel};
use uuid::Uuid;

type Client = AuditQueriesClient<Channel>;

/// Calls every RPC with `bearer` (none when `None`) and returns each call's outcome.
async fn every_call(
    client: &mut Client,
    bearer: Option<&str>,
    stream: &str,
) -> Vec<(&'static str, Result<(), Status>)> {
    fn req<T>(bearer: Option<&str>, message: T) -> Request<T> {
        match bearer {
            Some(bearer) => authed(bearer, message),
            None => Request::new(message),
        }
    }
    let range = (
        "2020-01-01T00:00:00Z".to_owned(),
        "2100-01-01T00:00:00Z".to_owned(),
    );
    vec![
        (
            "GetStreamHistory",
            client
                .get_stream_history(req(
                    bearer,
                    wire::GetStreamHistoryRequest {
                        stream_id: stream.to_owned(),
                        ..Default::default()
                    },
                ))
                .await
                .map(drop),
        ),
        (
            "GetCausalChain",
            client
                .get_causal_chain(req(
                    bearer,
                    wire::GetCausalChainRequest {
                        correlation_id: Uuid::new_v4().to_string(),
                    },
                ))
                .await
                .map(drop),
        ),
        (
            "ListEventsByActor",
            client
                .list_events_by_actor(req(
                    bearer,
                    wire::ListEventsByActorRequest {
                        actor: "admin:ops".into(),
                        from: range.0.clone(),
                        to: range.1.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .map(drop),
        ),
        (
            "ListEventsByType",
            client
                .list_events_by_type(req(
                    bearer,
                    wire::ListEventsByTypeRequest {
                        event_type: "OrderPlaced".into(),
                        from: range.0.clone(),
                        to: range.1.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .map(drop),
        ),
        (
            "CountEvents",
            client
                .count_events(req(
                    bearer,
                    wire::CountEventsRequest {
                        bucket: "day".into(),
                        from: "2026-01-01T00:00:00Z".into(),
                        to: "2026-12-31T00:00:00Z".into(),
                        group_by: String::new(),
                    },
                ))
                .await
                .map(drop),
        ),
        (
            "GetAggregateState",
            client
                .get_aggregate_state(req(
                    bearer,
                    wire::GetAggregateStateRequest {
                        stream_id: stream.to_owned(),
                        ..Default::default()
                    },
                ))
                .await
                .map(drop),
        ),
        (
            "ListSubjectEvents",
            client
                .list_subject_events(req(
                    bearer,
                    wire::ListSubjectEventsRequest {
                        customer_id: Uuid::new_v4().to_string(),
                        ..Default::default()
                    },
                ))
                .await
                .map(drop),
        ),
    ]
}

#[tokio::test]
async fn every_audit_call_refuses_anyone_but_an_admin() {
    let world = World::start(Duration::from_millis(100)).await;
    let mut client = AuditQueriesClient::new(world.channel.clone());
    let stream = format!("customer-{}", world.story.alice);
    let service = token("checkout", &[ROLE_SERVICE]);
    let alice = customer(world.story.alice);
    for (who, bearer, code) in [
        ("nobody", None, Code::Unauthenticated),
        ("a customer", Some(alice.as_str()), Code::PermissionDenied),
        ("a service", Some(service.as_str()), Code::PermissionDenied),
        ("a forged token", Some("not-a-jwt"), Code::Unauthenticated),
    ] {
        for (call, outcome) in every_call(&mut client, bearer, &stream).await {
            assert_code(outcome, code, &format!("{call} by {who}"));
        }
    }
    // The admin is answered (the chain and the subject are unknown ids: NOT_FOUND and empty).
    let admin = admin();
    for (call, outcome) in every_call(&mut client, Some(&admin), &stream).await {
        match call {
            "GetCausalChain" => {
                assert_code(outcome, Code::NotFound, call);
            }
            _ => outcome.unwrap_or_else(|status| panic!("{call} by an admin: {status:?}")),
        }
    }
}

#[tokio::test]
async fn an_admin_reads_a_customers_history_state_and_data_subject_events() {
    let world = World::start(Duration::from_millis(100)).await;
    let mut client = AuditQueriesClient::new(world.channel.clone());
    let admin = admin();
    let stream = format!("customer-{}", world.story.alice);

    let page = client
        .get_stream_history(authed(
            &admin,
            wire::GetStreamHistoryRequest {
                stream_id: stream.clone(),
                limit: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.events.len(), 1);
    let first = &page.events[0];
    assert_eq!(
        (
            first.stream_id.as_str(),
            first.version,
            first.category.as_str()
        ),
        (stream.as_str(), 0, "customer")
    );
    assert_eq!(first.event_type, "CustomerRegistered");
    let data: serde_json::Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(
        data["customer_id"],
        serde_json::json!(world.story.alice.to_string())
    );
    assert!(!page.next_cursor.is_empty());
    let back = client
        .get_stream_history(authed(
            &admin,
            wire::GetStreamHistoryRequest {
                stream_id: stream.clone(),
                direction: wire::Direction::Backward as i32,
                limit: 500,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.events.last().unwrap().version, 0);
    assert_eq!(back.events.first().unwrap().version, back.current_version);
    assert!(back.next_cursor.is_empty());

    let state = client
        .get_aggregate_state(authed(
            &admin,
            wire::GetAggregateStateRequest {
                stream_id: stream.clone(),
                version: Some(0),
                at: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.version, 0);
    let folded: serde_json::Value = serde_json::from_str(&state.state).unwrap();
    assert_eq!(
        folded["Registered"]["customer_id"],
        serde_json::json!(world.story.alice.to_string())
    );

    let subject = client
        .list_subject_events(authed(
            &admin,
            wire::ListSubjectEventsRequest {
                customer_id: world.story.alice.to_string(),
                limit: 500,
                cursor: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let streams: std::collections::BTreeSet<&str> =
        subject.events.iter().map(|e| e.category.as_str()).collect();
    assert!(
        streams.contains("customer") && streams.contains("cart") && streams.contains("order"),
        "{streams:?}"
    );
    assert!(
        subject
            .events
            .windows(2)
            .all(|w| w[0].position < w[1].position)
    );
}

#[tokio::test]
async fn malformed_audit_requests_are_invalid_and_unknown_streams_not_found() {
    let world = World::start(Duration::from_millis(100)).await;
    let mut client = AuditQueriesClient::new(world.channel.clone());
    let admin = admin();
    let stream = format!("customer-{}", world.story.alice);
    let history =
        |stream_id: &str, direction: i32, limit: u32, cursor: &str| wire::GetStreamHistoryRequest {
            stream_id: stream_id.to_owned(),
            direction,
            from_version: None,
            limit,
            cursor: cursor.to_owned(),
        };
    for (what, request, code) in [
        (
            "a malformed stream id",
            history("nodash", 0, 0, ""),
            Code::InvalidArgument,
        ),
        (
            "an unknown direction",
            history(&stream, 7, 0, ""),
            Code::InvalidArgument,
        ),
        (
            "a limit over 500",
            history(&stream, 0, 501, ""),
            Code::InvalidArgument,
        ),
        (
            "a malformed cursor",
            history(&stream, 0, 0, "x"),
            Code::InvalidArgument,
        ),
        (
            "an unknown stream",
            history(&format!("customer-{}", Uuid::new_v4()), 0, 0, ""),
            Code::NotFound,
        ),
    ] {
        assert_code(
            client.get_stream_history(authed(&admin, request)).await,
            code,
            what,
        );
    }
    let chain = client
        .get_causal_chain(authed(
            &admin,
            wire::GetCausalChainRequest {
                correlation_id: "42".into(),
            },
        ))
        .await;
    assert_code(
        chain,
        Code::InvalidArgument,
        "a correlation id that is not a UUID",
    );
    let by_type = |from: &str, to: &str| wire::ListEventsByTypeRequest {
        event_type: "OrderPlaced".into(),
        from: from.into(),
        to: to.into(),
        ..Default::default()
    };
    for (what, request) in [
        ("no range", by_type("", "")),
        (
            "a time that is not RFC 3339",
            by_type("yesterday", "2026-12-07T00:00:00Z"),
        ),
        (
            "from after to",
            by_type("2026-12-08T00:00:00Z", "2026-12-07T00:00:00Z"),
        ),
    ] {
        assert_code(
            client.list_events_by_type(authed(&admin, request)).await,
            Code::InvalidArgument,
            what,
        );
    }
    let counts = client
        .count_events(authed(
            &admin,
            wire::CountEventsRequest {
                bucket: "week".into(),
                from: "2026-12-01T00:00:00Z".into(),
                to: "2026-12-02T00:00:00Z".into(),
                group_by: String::new(),
            },
        ))
        .await;
    assert_code(counts, Code::InvalidArgument, "an unknown bucket");
    let both = client
        .get_aggregate_state(authed(
            &admin,
            wire::GetAggregateStateRequest {
                stream_id: stream.clone(),
                version: Some(0),
                at: Some("2026-12-07T00:00:00Z".into()),
            },
        ))
        .await;
    assert_code(both, Code::InvalidArgument, "both a version and a time");
    let subject = client
        .list_subject_events(authed(
            &admin,
            wire::ListSubjectEventsRequest {
                customer_id: "alice".into(),
                ..Default::default()
            },
        ))
        .await;
    assert_code(
        subject,
        Code::InvalidArgument,
        "a customer id that is not a UUID",
    );
}
