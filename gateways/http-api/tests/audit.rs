//! The audit routes (`/api/v1/admin/audit/…`, issue 14): refusals and malformed parameters
//! against the real router (a query endpoint nobody listens on, so a request that got as far as
//! a gRPC call would answer 503), the OpenAPI document, and every route answering a known
//! scenario from the real query service over a real event log ([`query::testing::World`]).

use std::{collections::BTreeMap, time::Duration};

use auth::{ROLE_CUSTOMER, ROLE_SERVICE};
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use chrono::{SecondsFormat, Utc};
use event_store::{EventMetadata, ExpectedVersion, NewEvent, StreamId};
use http_api::{AppState, HttpConfig, router};
use projections::testing::all_events;
use query::testing::{World, admin, token};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

/// The gateway's router over the query service at `endpoint`.
fn gateway(endpoint: String) -> Router {
    let mut config = HttpConfig::local();
    config.query_endpoint = endpoint;
    router(AppState::new(&config).expect("valid endpoint"))
}

/// The gateway over a query endpoint on which nothing listens: any gRPC call fails 503.
async fn gateway_without_query_service() -> Router {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    gateway(format!("http://{address}"))
}

/// GETs `path` with `bearer`; the status and the JSON body.
async fn get(http: &Router, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().uri(path);
    if let Some(bearer) = bearer {
        request = request.header("authorization", format!("Bearer {bearer}"));
    }
    let response = http
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

/// GETs `path` as an admin and returns the body of the 200.
async fn ok(http: &Router, path: &str) -> Value {
    let (status, body) = get(http, path, Some(&admin())).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body:#}");
    body
}

/// Asserts an error of `status` with `code` in the gateway's error shape.
#[track_caller]
fn assert_error((status, body): &(StatusCode, Value), expected: u16, code: &str, what: &str) {
    assert_eq!(status.as_u16(), expected, "{what}: {body:#}");
    assert_eq!(body["error"]["code"], code, "{what}: {body:#}");
    assert!(body["error"]["request_id"].is_string(), "{what}: {body:#}");
}

const FROM: &str = "2026-12-07T10:00:00Z";
const TO: &str = "2026-12-07T11:00:00Z";

/// One well-formed request of every audit route.
fn audit_routes() -> Vec<String> {
    let id = Uuid::new_v4();
    vec![
        format!("/api/v1/admin/audit/streams/order-{id}/events?direction=backward&limit=10"),
        format!("/api/v1/admin/audit/correlations/{id}"),
        format!("/api/v1/admin/audit/events/by-actor?actor=admin:ops&from={FROM}&to={TO}"),
        format!("/api/v1/admin/audit/events/by-type?type=OrderPlaced&from={FROM}&to={TO}"),
        format!("/api/v1/admin/audit/counts?bucket=minute&by=category&from={FROM}&to={TO}"),
        format!("/api/v1/admin/audit/streams/order-{id}/state?version=3"),
        format!("/api/v1/admin/audit/customers/{id}/events?limit=500"),
    ]
}

#[tokio::test]
async fn only_an_admin_gets_past_the_token_check_of_any_audit_route() {
    let http = gateway_without_query_service().await;
    let customer = token(&Uuid::new_v4().to_string(), &[ROLE_CUSTOMER]);
    let service = token("order-saga", &[ROLE_SERVICE]);
    for path in audit_routes() {
        assert_error(
            &get(&http, &path, None).await,
            401,
            "unauthenticated",
            &path,
        );
        let garbage = get(&http, &path, Some("not.a.jwt")).await;
        assert_error(&garbage, 401, "unauthenticated", &path);
        assert_error(
            &get(&http, &path, Some(&customer)).await,
            403,
            "forbidden",
            &path,
        );
        assert_error(
            &get(&http, &path, Some(&service)).await,
            403,
            "forbidden",
            &path,
        );
        // The admin's well-formed request reaches the (absent) query service.
        let admitted = get(&http, &path, Some(&admin())).await;
        assert_error(&admitted, 503, "unavailable", &path);
    }
    // Refused before the parameters are looked at.
    let malformed = "/api/v1/admin/audit/correlations/42?limit=0";
    assert_error(
        &get(&http, malformed, None).await,
        401,
        "unauthenticated",
        malformed,
    );
    let refused = get(&http, malformed, Some(&customer)).await;
    assert_error(&refused, 403, "forbidden", malformed);
}

#[tokio::test]
async fn malformed_parameters_are_400_before_any_grpc_call() {
    let http = gateway_without_query_service().await;
    let id = Uuid::new_v4();
    let long = "x".repeat(2000);
    let stream = format!("/api/v1/admin/audit/streams/order-{id}");
    let range = format!("from={FROM}&to={TO}");
    let bad = [
        // Ids.
        "/api/v1/admin/audit/correlations/42".to_owned(),
        format!("/api/v1/admin/audit/correlations/{}", id.simple()),
        "/api/v1/admin/audit/customers/nobody/events".to_owned(),
        "/api/v1/admin/audit/streams/Order-1/events".to_owned(),
        "/api/v1/admin/audit/streams/order/events".to_owned(),
        "/api/v1/admin/audit/streams/order-a%20b/state".to_owned(),
        format!(
            "/api/v1/admin/audit/streams/order-{}/events",
            "x".repeat(300)
        ),
        // Paging.
        format!("{stream}/events?limit=0"),
        format!("{stream}/events?limit=501"),
        format!("{stream}/events?limit=ten"),
        format!("{stream}/events?cursor={long}"),
        format!("/api/v1/admin/audit/customers/{id}/events?limit=-1"),
        format!("/api/v1/admin/audit/events/by-type?type=OrderPlaced&{range}&limit=1000"),
        // Direction and versions.
        format!("{stream}/events?direction=sideways"),
        format!("{stream}/events?from=-1"),
        format!("{stream}/events?from=%2B1"),
        format!("{stream}/events?from=18446744073709551616"),
        format!("{stream}/state?version=x"),
        format!("{stream}/state?at=yesterday"),
        format!("{stream}/state?version=1&at={FROM}"),
        // Times and ranges.
        "/api/v1/admin/audit/events/by-actor?actor=ops".to_owned(),
        format!("/api/v1/admin/audit/events/by-actor?actor=ops&from={FROM}"),
        format!("/api/v1/admin/audit/events/by-actor?actor=ops&from=2026-12-07&to={TO}"),
        format!("/api/v1/admin/audit/events/by-actor?actor=ops&from={TO}&to={FROM}"),
        format!("/api/v1/admin/audit/events/by-actor?{range}"),
        format!("/api/v1/admin/audit/events/by-actor?actor=a%00b&{range}"),
        format!(
            "/api/v1/admin/audit/events/by-actor?actor={}&{range}",
            "a".repeat(257)
        ),
        format!("/api/v1/admin/audit/events/by-type?{range}"),
        format!(
            "/api/v1/admin/audit/events/by-type?type={}&{range}",
            "T".repeat(129)
        ),
        // Buckets.
        format!("/api/v1/admin/audit/counts?{range}"),
        format!("/api/v1/admin/audit/counts?bucket=week&{range}"),
        format!("/api/v1/admin/audit/counts?bucket=hour&by=actor&{range}"),
        "/api/v1/admin/audit/counts?bucket=hour".to_owned(),
    ];
    for path in bad {
        let answer = get(&http, &path, Some(&admin())).await;
        assert_error(&answer, 400, "invalid_argument", &path);
    }
}

#[tokio::test]
async fn the_document_describes_every_audit_route_as_it_is_enforced() {
    let doc = serde_json::to_value(http_api::openapi::generate()).unwrap();
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|path| path.starts_with("/api/v1/admin/audit/"))
        .collect();
    documented.sort_unstable();
    let mut expected = vec![
        "/api/v1/admin/audit/streams/{stream_id}/events",
        "/api/v1/admin/audit/correlations/{correlation_id}",
        "/api/v1/admin/audit/events/by-actor",
        "/api/v1/admin/audit/events/by-type",
        "/api/v1/admin/audit/counts",
        "/api/v1/admin/audit/streams/{stream_id}/state",
        "/api/v1/admin/audit/customers/{customer_id}/events",
    ];
    expected.sort_unstable();
    assert_eq!(documented, expected);

    // name → (in, required, schema) of every parameter but the shared headers.
    let params = |path: &str| -> BTreeMap<String, (String, bool, Value)> {
        let get = &doc["paths"][path]["get"];
        assert_eq!(get["security"], json!([{"bearer": []}]), "{path}");
        for status in ["200", "400", "401", "403", "500", "503"] {
            assert!(
                get["responses"][status].is_object(),
                "{path} documents {status}"
            );
        }
        get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] != "header")
            .map(|p| {
                let required = p["required"].as_bool().unwrap_or(false);
                let entry = (
                    p["in"].as_str().unwrap().to_owned(),
                    required,
                    p["schema"].clone(),
                );
                (p["name"].as_str().unwrap().to_owned(), entry)
            })
            .collect()
    };
    let limit_is_1_to_500 = |path: &str, params: &BTreeMap<String, (String, bool, Value)>| {
        let (_, required, schema) = &params["limit"];
        assert!(!required, "{path}");
        assert_eq!(schema["minimum"], 1, "{path}");
        assert_eq!(schema["maximum"], 500, "{path}");
        assert_eq!(params["cursor"].2["maxLength"], 1024, "{path}");
    };
    let enum_of = |schema: &Value| -> Vec<String> {
        let values = schema["enum"]
            .as_array()
            .or_else(|| schema["oneOf"][0]["enum"].as_array())
            .unwrap_or_else(|| panic!("no enum in {schema:#}"));
        values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };

    let path = "/api/v1/admin/audit/streams/{stream_id}/events";
    let history = params(path);
    assert_eq!(history["stream_id"].0, "path");
    assert_eq!(history["stream_id"].2["maxLength"], 256);
    assert!(history["stream_id"].2["pattern"].is_string());
    assert_eq!(enum_of(&history["direction"].2), ["forward", "backward"]);
    assert_eq!(history["from"].2["minimum"], 0);
    limit_is_1_to_500(path, &history);
    assert!(doc["paths"][path]["get"]["responses"]["404"].is_object());

    let path = "/api/v1/admin/audit/correlations/{correlation_id}";
    assert_eq!(params(path)["correlation_id"].2["format"], "uuid");
    let path = "/api/v1/admin/audit/customers/{customer_id}/events";
    let subject = params(path);
    assert_eq!(subject["customer_id"].2["format"], "uuid");
    limit_is_1_to_500(path, &subject);

    for (path, filter) in [
        ("/api/v1/admin/audit/events/by-actor", "actor"),
        ("/api/v1/admin/audit/events/by-type", "type"),
    ] {
        let found = params(path);
        assert!(found[filter].1, "{path}: {filter} is required");
        for bound in ["from", "to"] {
            assert!(found[bound].1, "{path}: {bound} is required");
            assert_eq!(found[bound].2["format"], "date-time", "{path}");
        }
        limit_is_1_to_500(path, &found);
    }
    let counts = params("/api/v1/admin/audit/counts");
    assert!(counts["bucket"].1);
    assert_eq!(enum_of(&counts["bucket"].2), ["minute", "hour", "day"]);
    assert_eq!(enum_of(&counts["by"].2), ["type", "category"]);
    assert!(!counts["by"].1);
    let state = params("/api/v1/admin/audit/streams/{stream_id}/state");
    assert_eq!(state["at"].2["format"], "date-time");
    assert_eq!(state["version"].2["minimum"], 0);

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "GetStreamHistoryResponse",
        "GetCausalChainResponse",
        "ChainNode",
        "EventPage",
        "AuditEvent",
        "EventMetadata",
        "CountEventsResponse",
        "EventCount",
        "AggregateState",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

/// Appends `events` (type, metadata) to a new stream `<category>-<uuid>`; its id.
async fn append(world: &World, category: &str, events: Vec<(&str, EventMetadata)>) -> String {
    let stream = StreamId::new(category, Uuid::new_v4()).unwrap();
    let new: Vec<NewEvent> = events
        .into_iter()
        .map(|(event_type, metadata)| {
            NewEvent::new(event_type, json!({"note": event_type})).with_metadata(metadata)
        })
        .collect();
    world
        .log
        .store
        .append(&stream, ExpectedVersion::NoStream, &new)
        .await
        .expect("append");
    stream.to_string()
}

fn events(body: &Value) -> &Vec<Value> {
    body["events"].as_array().unwrap()
}

fn versions(body: &Value) -> Vec<u64> {
    events(body)
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect()
}

fn time(offset: chrono::Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn every_audit_route_answers_a_known_story_from_the_real_log() {
    let from = time(-chrono::Duration::hours(1));
    let world = World::start(Duration::from_secs(2)).await;
    let s = &world.story;
    let http = gateway(format!("http://{}", world.query_addr));
    let story = all_events(&world.log.store).await;

    // A user action across two streams: an admin's command appends a root event, whose effect
    // on another stream names it as its cause; and one event by Alice herself.
    let correlation = Uuid::new_v4();
    let command = Uuid::new_v4();
    let root = EventMetadata {
        correlation_id: Some(correlation),
        causation_id: Some(command),
        command_id: Some(command),
        actor: Some("admin:audit-test".into()),
        ..EventMetadata::default()
    };
    let ledger = append(&world, "ledger", vec![("EntryBooked", root)]).await;
    let root_event = world.events_from(&ledger, 0).await.remove(0);
    let effect = EventMetadata {
        correlation_id: Some(correlation),
        causation_id: Some(root_event.event_id),
        actor: Some(s.alice.to_string()),
        ..EventMetadata::default()
    };
    let mail = append(&world, "mail", vec![("ReceiptSent", effect)]).await;
    let to = time(chrono::Duration::hours(1));

    // The history of Alice's customer stream, forward and backward, two at a time.
    let alice_stream = format!("customer-{}", s.alice);
    let count = story
        .iter()
        .filter(|e| e.stream_id.as_str() == alice_stream)
        .count() as u64;
    let base = format!("/api/v1/admin/audit/streams/{alice_stream}/events");
    let mut seen = Vec::new();
    let mut path = format!("{base}?limit=2");
    loop {
        let page = ok(&http, &path).await;
        assert_eq!(page["current_version"], count - 1);
        seen.extend(versions(&page));
        match page["next_cursor"].as_str().unwrap() {
            "" => break,
            cursor => path = format!("{base}?limit=2&cursor={cursor}"),
        }
    }
    assert_eq!(seen, (0..count).collect::<Vec<_>>());
    let newest = ok(&http, &format!("{base}?direction=backward&limit=2")).await;
    assert_eq!(versions(&newest), [count - 1, count - 2]);
    let cursor = newest["next_cursor"].as_str().unwrap();
    let older = ok(
        &http,
        &format!("{base}?direction=backward&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(versions(&older), [count - 3, count - 4]);
    let middle = ok(&http, &format!("{base}?direction=backward&from=1")).await;
    assert_eq!(versions(&middle), [1, 0]);
    assert_eq!(events(&middle)[1]["event_type"], "CustomerRegistered");
    let unknown = format!(
        "/api/v1/admin/audit/streams/order-{}/events",
        Uuid::new_v4()
    );
    assert_error(
        &get(&http, &unknown, Some(&admin())).await,
        404,
        "not_found",
        &unknown,
    );
    let wrong_cursor = format!("{base}?direction=backward&cursor=f3");
    let refused = get(&http, &wrong_cursor, Some(&admin())).await;
    assert_error(&refused, 400, "invalid_argument", &wrong_cursor);

    // The causal chain: the root, then its effect one deeper.
    let chain = ok(
        &http,
        &format!("/api/v1/admin/audit/correlations/{correlation}"),
    )
    .await;
    assert_eq!(chain["correlation_id"], correlation.to_string());
    assert_eq!(chain["streams"], json!([ledger, mail]));
    assert_eq!(chain["truncated"], false);
    let nodes = chain["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{chain:#}");
    assert_eq!(nodes[0]["depth"], 0);
    assert_eq!(nodes[0]["link"], "root");
    assert_eq!(nodes[0]["event"]["event_type"], "EntryBooked");
    assert_eq!(nodes[1]["depth"], 1);
    assert_eq!(nodes[1]["link"], "event");
    assert_eq!(nodes[1]["parent_event_id"], root_event.event_id.to_string());
    assert_eq!(nodes[1]["event"]["metadata"]["actor"], s.alice.to_string());
    let unknown = format!("/api/v1/admin/audit/correlations/{}", Uuid::new_v4());
    assert_error(
        &get(&http, &unknown, Some(&admin())).await,
        404,
        "not_found",
        &unknown,
    );

    // By actor, by type (paged), in the range; nothing in a range before the story.
    let by_actor = ok(
        &http,
        &format!("/api/v1/admin/audit/events/by-actor?actor=admin:audit-test&from={from}&to={to}"),
    )
    .await;
    assert_eq!(events(&by_actor).len(), 1);
    assert_eq!(events(&by_actor)[0]["stream_id"], ledger);
    assert_eq!(by_actor["next_cursor"], "");
    let by_type = |cursor: &str| {
        format!(
            "/api/v1/admin/audit/events/by-type?type=OrderPlaced&from={from}&to={to}&limit=2&cursor={cursor}"
        )
    };
    let first = ok(&http, &by_type("")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let rest = ok(&http, &by_type(cursor)).await;
    assert_eq!(rest["next_cursor"], "");
    let placed: Vec<String> = events(&first)
        .iter()
        .chain(events(&rest))
        .map(|e| e["stream_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(placed, [s.o1, s.o2, s.o3].map(|o| format!("order-{o}")));
    let before = ok(
        &http,
        "/api/v1/admin/audit/events/by-type?type=OrderPlaced&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
    )
    .await;
    assert!(events(&before).is_empty());

    // Counts per category, summed over the hour buckets of the range.
    let counts = ok(
        &http,
        &format!("/api/v1/admin/audit/counts?bucket=hour&by=category&from={from}&to={to}"),
    )
    .await;
    let mut per_category: BTreeMap<String, u64> = BTreeMap::new();
    for count in counts["counts"].as_array().unwrap() {
        let key = count["key"].as_str().unwrap().to_owned();
        *per_category.entry(key).or_default() += count["count"].as_u64().unwrap();
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for event in &story {
        *expected
            .entry(event.stream_id.category().to_owned())
            .or_default() += 1;
    }
    expected.insert("ledger".into(), 1);
    expected.insert("mail".into(), 1);
    assert_eq!(per_category, expected);
    let by_type = ok(
        &http,
        &format!("/api/v1/admin/audit/counts?bucket=day&from={from}&to={to}"),
    )
    .await;
    let placed: u64 = by_type["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["key"] == "OrderPlaced")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(placed, 3);

    // Alice's state after her registration, and now.
    let state = format!("/api/v1/admin/audit/streams/{alice_stream}/state");
    let registered = ok(&http, &format!("{state}?version=0")).await;
    assert_eq!(registered["version"], 0);
    assert_eq!(registered["category"], "customer");
    let folded: Value = serde_json::from_str(registered["state"].as_str().unwrap()).unwrap();
    assert!(folded.to_string().contains("\"Alice\""), "{folded:#}");
    let now = ok(&http, &state).await;
    assert_eq!(now["version"], count - 1);
    assert!(now["state"].as_str().unwrap().contains("Alice Liddell"));
    let at = ok(&http, &format!("{state}?at={to}")).await;
    assert_eq!(at["version"], count - 1);
    let too_early = format!("{state}?at=2020-01-01T00:00:00Z");
    assert_error(
        &get(&http, &too_early, Some(&admin())).await,
        404,
        "not_found",
        &too_early,
    );
    let not_an_aggregate = format!("/api/v1/admin/audit/streams/{ledger}/state");
    let refused = get(&http, &not_an_aggregate, Some(&admin())).await;
    assert_error(&refused, 400, "invalid_argument", &not_an_aggregate);

    // Alice's data-subject request: her streams, events naming her, and what she did, in log
    // order, paged.
    let alice = s.alice.to_string();
    let mut expected: Vec<u64> = story
        .iter()
        .filter(|e| {
            e.stream_id.id() == alice && ["customer", "cart"].contains(&e.stream_id.category())
                || e.data.get("customer_id").and_then(Value::as_str) == Some(alice.as_str())
        })
        .map(|e| e.position)
        .collect();
    expected.push(world.events_from(&mail, 0).await[0].position);
    let subject = format!("/api/v1/admin/audit/customers/{alice}/events");
    let mut positions = Vec::new();
    let mut path = format!("{subject}?limit=7");
    loop {
        let page = ok(&http, &path).await;
        positions.extend(
            events(&page)
                .iter()
                .map(|e| e["position"].as_u64().unwrap()),
        );
        match page["next_cursor"].as_str().unwrap() {
            "" => break,
            cursor => path = format!("{subject}?limit=7&cursor={cursor}"),
        }
    }
    assert_eq!(positions, expected);
    let nobody = ok(
        &http,
        &format!("/api/v1/admin/audit/customers/{}/events", Uuid::new_v4()),
    )
    .await;
    assert!(events(&nobody).is_empty());
}
