//! `commerce-projections` as an operator uses it: the real binary over a test database, with a
//! real poison event (a payload the customers read model cannot decode) parked by the runtime.

use std::process::{Command, Output};

use event_store::testing::TestDatabase;
use event_store::{ExpectedVersion, NewEvent, StreamId};
use metrics_gateway::Registry;
use projections::read_models;
use projections::runtime::{Handled, ProjectionMetrics, ProjectionRuntime};
use settings::ExposeSecret;
use uuid::Uuid;

fn cli(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_commerce-projections"))
        .args(args)
        .env(
            "APP_DATABASE__URL",
            db.settings.database.url.expose_secret(),
        )
        .env("APP_PROJECTIONS__MAX_ATTEMPTS", "1")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn an_operator_lists_redrives_and_skips_a_parked_event() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let stream = StreamId::new("customer", Uuid::new_v4()).unwrap();
    // A registration whose payload misses every field: the customers read model cannot decode it.
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            &[NewEvent::new(
                "CustomerRegistered",
                serde_json::json!({"nonsense": true}),
            )],
        )
        .await
        .unwrap();
    let event = store.read_stream_to_end(&stream).await.unwrap().remove(0);
    let mut settings = db.settings.clone();
    settings.projections.max_attempts = 1;
    settings.projections.redis_prefix = format!("cli-{}", Uuid::new_v4().simple());
    let runtime = ProjectionRuntime::connect(
        &settings,
        ProjectionMetrics::register(&mut Registry::default()),
    )
    .await
    .unwrap();
    let customers = read_models::all()
        .into_iter()
        .find(|projection| projection.name() == "customers")
        .expect("the customers read model");
    assert!(matches!(
        runtime.handle(&customers, &event).await,
        Handled::Parked
    ));

    let listed = cli(&db, &["parked", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    let text = stdout(&listed);
    assert!(
        text.contains(&format!("customers {stream} v0")) && text.contains("decode"),
        "{text}"
    );

    // Re-driving without a fix fails again: non-zero exit, the event stays parked.
    let stream_arg = stream.to_string();
    let redrive = cli(
        &db,
        &[
            "parked",
            "redrive",
            "--projection",
            "customers",
            "--stream",
            &stream_arg,
        ],
    );
    assert!(!redrive.status.success(), "{redrive:?}");
    assert!(String::from_utf8_lossy(&redrive.stderr).starts_with("error: "));
    assert_eq!(runtime.parked(Some("customers")).await.unwrap().len(), 1);

    // Skipping is the operator's decision: the row goes, the marker moves past it.
    let skip = cli(
        &db,
        &[
            "parked",
            "skip",
            "--projection",
            "customers",
            "--stream",
            &stream_arg,
            "--version",
            "0",
        ],
    );
    assert!(skip.status.success(), "{skip:?}");
    assert!(runtime.parked(None).await.unwrap().is_empty());
    let marker: i64 = sqlx::query_scalar(
        "SELECT version FROM projection_versions WHERE projection = 'customers' AND stream_id = $1",
    )
    .bind(stream.as_str())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(marker, 0);
    assert!(stdout(&cli(&db, &["parked", "list"])).contains("no parked events"));
}

#[tokio::test]
async fn unknown_commands_and_projections_fail_with_a_clear_message() {
    let db = TestDatabase::create(2).await;
    for args in [
        vec!["frobnicate"],
        vec!["rebuild", "no_such_model"],
        vec![
            "parked",
            "skip",
            "--projection",
            "customers",
            "--stream",
            "customer-1",
        ],
    ] {
        let output = cli(&db, &args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}
