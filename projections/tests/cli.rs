//! `commerce-projections` as an operator uses it: the real binary over a test database, with a
//! real poison event (a payload the customers read model cannot decode) parked by the runtime.
#![recursion_limit = "512"]

use std::collections::BTreeMap;
use std::process::{Command, Output};

use aggregates::customer::CustomerCommand;
use aggregates::{Currency, Customer, CustomerId};
use event_store::testing::TestDatabase;
use event_store::{ExpectedVersion, NewEvent, StreamId};
use projections::runtime::{Applied, Handled, ProjectionMetrics, ProjectionRuntime};
use projections::testing::{Stream, database, story::eur, t};
use projections::{Projection, read_models};
use rocketmq::{ReceivedMessage, property};
use server::Registry;
use settings::ExposeSecret;
use uuid::Uuid;

/// The CLI over `db`, parking after one try, serving no progress metrics (tests run side by
/// side, and a fixed port would be shared).
fn command(db: &TestDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_commerce-projections"));
    command
        .args(args)
        .env(
            "APP_DATABASE__URL",
            db.settings.database.url.expose_secret(),
        )
        .env("APP_PROJECTIONS__MAX_ATTEMPTS", "1")
        .env("APP_PROJECTIONS__REPLAY_METRICS_LISTEN", "")
        .env("RUST_LOG", "warn");
    command
}

fn cli(db: &TestDatabase, args: &[&str]) -> Output {
    command(db, args).output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A runtime over `db` that parks after one try, with a Redis prefix of its own.
async fn runtime(db: &TestDatabase) -> ProjectionRuntime {
    let mut settings = db.settings.clone();
    settings.projections.max_attempts = 1;
    settings.projections.redis_prefix = format!("cli-{}", Uuid::new_v4().simple());
    ProjectionRuntime::connect(
        &settings,
        ProjectionMetrics::register(&mut Registry::default()),
    )
    .await
    .unwrap()
}

fn customers() -> Projection {
    read_models::all()
        .into_iter()
        .find(|projection| projection.name() == "customers")
        .expect("the customers read model")
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
    let id = runtime.parked(Some("customers")).await.unwrap()[0]
        .id
        .to_string();
    let skip = cli(&db, &["parked", "skip", "--id", &id]);
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

/// A mistyped command or projection is refused before the CLI connects or serves anything:
/// stderr starts with the error, even when the metrics address is taken (CI once failed on
/// "progress metrics not served on …" printed first, another test holding the default port).
#[tokio::test]
async fn unknown_commands_and_projections_fail_with_a_clear_message() {
    let db = TestDatabase::create(2).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for args in [
        vec!["frobnicate"],
        vec!["rebuild", "no_such_model"],
        vec!["replay", "no_such_model", "--rollback"],
        vec!["verify", "no_such_model"],
        vec![
            "parked",
            "skip",
            "--projection",
            "customers",
            "--stream",
            "customer-1",
        ],
    ] {
        let output = command(&db, &args)
            .env("APP_PROJECTIONS__REPLAY_METRICS_LISTEN", &taken)
            .output()
            .expect("the binary runs");
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn an_operator_skips_an_undecodable_message_without_a_version_by_its_id() {
    let (db, mut log) = database().await;
    let runtime = runtime(&db).await;
    let customers = customers();
    let carol: CustomerId = Uuid::new_v4().into();
    let mut stream = Stream::<Customer>::new(&carol);
    let stream_arg = stream.stream_id.to_string();

    // A message that names its stream but neither decodes nor says its version: parked with
    // no version. The registration after it is parked behind it (the stream is stopped).
    let garbage = ReceivedMessage {
        topic: "commerce-customer".to_owned(),
        tag: None,
        keys: vec![],
        properties: BTreeMap::from([(property::STREAM_ID.to_owned(), stream_arg.clone())]),
        body: b"not an event".to_vec(),
        msg_id: "garbage-1".to_owned(),
        queue_id: 0,
        queue_offset: 0,
        reconsume_times: 0,
    };
    assert_eq!(
        runtime.handle_message(&customers, &garbage).await,
        Handled::Parked
    );
    stream
        .run(
            &mut log,
            CustomerCommand::Register {
                customer_id: carol,
                email: "carol@example.com".into(),
                name: "Carol".into(),
                currency: Currency::EUR,
                at: t(0),
            },
        )
        .await;
    let registered = log
        .store
        .read_stream_to_end(&stream.stream_id)
        .await
        .unwrap();
    assert_eq!(
        runtime.handle(&customers, &registered[0]).await,
        Handled::Parked
    );
    let parked = runtime.parked(Some("customers")).await.unwrap();
    assert_eq!(parked.len(), 2);
    assert_eq!((parked[0].version, parked[1].version), (None, Some(0)));
    let (garbage_id, registered_id) = (parked[0].id.to_string(), parked[1].id.to_string());

    // `parked list` names each row by its id.
    let text = stdout(&cli(&db, &["parked", "list"]));
    assert!(
        text.contains(&format!("#{garbage_id} customers {stream_arg} v?"))
            && text.contains(&format!("#{registered_id} customers {stream_arg} v0")),
        "{text}"
    );

    // The re-drive cannot apply a message without a version and says how to skip it.
    let redrive = ["parked", "redrive", "--projection", "customers", "--stream"];
    let failed = cli(&db, &[&redrive[..], &[stream_arg.as_str()]].concat());
    assert!(!failed.status.success(), "{failed:?}");

    let skipped = cli(&db, &["parked", "skip", "--id", &garbage_id]);
    assert!(skipped.status.success(), "{skipped:?}");
    assert!(
        stderr(&failed).contains(&format!("parked skip --id {garbage_id}")),
        "{failed:?}"
    );
    assert!(
        stdout(&skipped).contains(&format!("1 parked events of {stream_arg} left")),
        "{skipped:?}"
    );

    // The registration is still parked, so the stream stays stopped until it is re-driven.
    assert_eq!(
        runtime.handle(&customers, &registered[0]).await,
        Handled::Parked
    );
    let redriven = cli(&db, &[&redrive[..], &[stream_arg.as_str()]].concat());
    assert!(redriven.status.success(), "{redriven:?}");
    assert!(stdout(&cli(&db, &["parked", "list"])).contains("no parked events"));

    // The stream flows again.
    stream
        .run(
            &mut log,
            CustomerCommand::DepositBalance {
                amount: eur(500),
                at: t(1),
            },
        )
        .await;
    let deposited = log
        .store
        .read_stream_from(&stream.stream_id, 1)
        .await
        .unwrap();
    assert_eq!(
        runtime.handle(&customers, &deposited[0]).await,
        Handled::Applied(Applied::Applied { filled: 0 })
    );
    let marker: i64 = sqlx::query_scalar(
        "SELECT version FROM projection_versions WHERE projection = 'customers' AND stream_id = $1",
    )
    .bind(&stream_arg)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(marker, 1);
}
