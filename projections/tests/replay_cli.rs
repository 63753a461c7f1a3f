//! Replay and verify as an operator runs them (issue 14, "Done means"): the real
//! `commerce-projections` binary over a test database and Redis prefix of its own, killed half
//! way, run twice at once, and verifying live models with injected differences; the registry
//! (`read_model_generations`), the PostgreSQL schemas and the Redis keys checked from outside.
#![recursion_limit = "512"]

mod e2e_support;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aggregates::customer::CustomerCommand;
use aggregates::product::ProductCommand;
use aggregates::{
    Aggregate, Currency, Customer, CustomerId, DomainEvent, Product, ProductId, SkuId,
};
use e2e_support::{Worker, child_env, kill_hard, unique_settings};
use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId};
use futures::StreamExt;
use projections::runtime::{Handled, ProjectionMetrics, ProjectionRuntime};
use projections::testing::{story::eur, t};
use projections::{Projection, read_models};
use server::Registry;
use settings::{ExposeSecret, Settings};
use tokio::time::Instant;
use uuid::Uuid;

/// A test's database, its settings (Redis prefix, names of its own) and a runtime over them.
struct Fixture {
    db: TestDatabase,
    settings: Settings,
    runtime: ProjectionRuntime,
}

impl Fixture {
    async fn new() -> Self {
        let db = TestDatabase::create(12).await;
        let mut settings = unique_settings(&db);
        // A port of its own for the replay's progress metrics.
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        settings.projections.replay_metrics_listen = free.local_addr().unwrap().to_string();
        drop(free);
        let runtime = ProjectionRuntime::connect(
            &settings,
            ProjectionMetrics::register(&mut Registry::default()),
        )
        .await
        .expect("a runtime over the test database");
        Self {
            db,
            settings,
            runtime,
        }
    }

    /// `commerce-projections <args>` with this test's settings and replay pages of `page` events.
    fn command(&self, args: &[&str], page: u32) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_commerce-projections"));
        command
            .args(args)
            .envs(child_env(&self.settings))
            .env("APP_PROJECTIONS__REPLAY_PAGE", page.to_string())
            .env(
                "APP_PROJECTIONS__REPLAY_METRICS_LISTEN",
                &self.settings.projections.replay_metrics_listen,
            );
        command
    }

    /// The value of `projection_replay_<name>{projection="<model>"}` a running replay serves.
    fn replay_metric(&self, name: &str, model: &str) -> Option<f64> {
        use std::io::{Read, Write};
        let address = &self.settings.projections.replay_metrics_listen;
        let mut stream = std::net::TcpStream::connect(address).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let series = format!("projection_replay_{name}{{projection=\"{model}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .and_then(|value| value.trim().parse().ok())
    }

    /// Runs `commerce-projections <args>` to its end.
    fn cli(&self, args: &[&str]) -> Output {
        self.cli_paged(args, 5_000)
    }

    fn cli_paged(&self, args: &[&str], page: u32) -> Output {
        self.command(args, page).output().expect("the binary runs")
    }

    /// Starts `commerce-projections <args>` in the background; SIGKILLed when dropped.
    fn spawn(&self, args: &[&str], page: u32) -> Worker {
        Worker(
            self.command(args, page)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the binary starts"),
        )
    }

    /// `(generation, status, checkpoint_position, head_position)` of every row of `model`.
    async fn registry(&self, model: &str) -> Vec<(i32, String, i64, i64)> {
        sqlx::query_as(
            "SELECT generation, status, checkpoint_position, head_position \
             FROM read_model_generations WHERE projection = $1 ORDER BY generation",
        )
        .bind(model)
        .fetch_all(&self.db.pool)
        .await
        .expect("read the registry")
    }

    /// The generation the registry says is live.
    async fn live(&self, model: &str) -> Option<i32> {
        self.status(model, "live").await.first().copied()
    }

    /// The generations of `model` in `status`.
    async fn status(&self, model: &str, status: &str) -> Vec<i32> {
        self.registry(model)
            .await
            .into_iter()
            .filter(|row| row.1 == status)
            .map(|row| row.0)
            .collect()
    }

    /// Every `rm_*` schema of the database (non-live PostgreSQL generations).
    async fn generation_schemas(&self) -> BTreeSet<String> {
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'rm\\_%'")
            .fetch_all(&self.db.pool)
            .await
            .expect("list schemas")
            .into_iter()
            .collect()
    }

    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.settings.redis.url.expose_secret())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers (run scripts/setup)")
    }

    /// The epoch of Redis model `model` (`g<N>.v<V>`).
    async fn epoch(&self, model: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(format!("{}:{model}:epoch", self.prefix()))
            .query_async(&mut self.redis().await)
            .await
            .expect("GET epoch")
    }

    /// Every Redis key of this test.
    async fn redis_keys(&self) -> BTreeSet<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix()))
            .query_async::<Vec<String>>(&mut self.redis().await)
            .await
            .expect("KEYS")
            .into_iter()
            .collect()
    }

    fn prefix(&self) -> &str {
        &self.settings.projections.redis_prefix
    }

    /// Builds every read model's first generation (from the log as it is), as a worker does at
    /// start; events appended later reach them through [`Fixture::apply_live`].
    async fn build(&self) {
        for projection in read_models::all() {
            self.runtime
                .ensure_built(&projection)
                .await
                .unwrap_or_else(|error| panic!("{} builds: {error}", projection.name()));
        }
    }

    /// Applies `events` to the live generation of every model in `models`, as the consumers do
    /// (batches through the runtime, markers and all).
    async fn apply_live(&self, models: &[&str], events: &[RecordedEvent]) {
        for name in models {
            let projection = projection(name);
            let mine: Vec<&RecordedEvent> = events
                .iter()
                .filter(|event| {
                    projection
                        .categories()
                        .contains(&event.stream_id.category())
                })
                .collect();
            for batch in mine.chunks(500) {
                let handled = self.runtime.handle_batch(&projection, batch).await;
                assert!(
                    handled.iter().all(|h| matches!(h, Handled::Applied(_))),
                    "{name}: {handled:?}"
                );
            }
        }
    }

    async fn snapshot(&self, name: &str) -> serde_json::Value {
        self.runtime
            .snapshot(&projection(name))
            .await
            .expect("snapshot")
    }
}

fn projection(name: &str) -> Projection {
    read_models::all()
        .into_iter()
        .find(|projection| projection.name() == name)
        .unwrap_or_else(|| panic!("no read model {name}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts `output` exited 0 and returns its stdout.
fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// The events `commands` record on one aggregate, decided and folded in order.
fn decided<A: Aggregate>(commands: Vec<A::Command>) -> Vec<NewEvent>
where
    A::Error: std::fmt::Debug,
{
    let mut state = A::State::default();
    let mut recorded = Vec::new();
    for command in commands {
        let events = A::decide(&state, command).expect("command accepted");
        state = A::fold_from(state, &events);
        recorded.extend(events.iter().map(|event| {
            NewEvent::new(event.event_type(), event.to_data())
                .with_schema_version(event.schema_version())
        }));
    }
    recorded
}

/// The ids a written log holds.
#[derive(Default)]
struct Written {
    customers: Vec<CustomerId>,
    products: Vec<ProductId>,
}

/// Appends `customers` customer streams (a registration, then deposits) and `products` product
/// streams (created, one SKU, then restocks) of `per_stream` events each, one append per
/// stream, eight at a time; returns the new events in `$all` order.
async fn write_log(
    db: &TestDatabase,
    customers: usize,
    products: usize,
    per_stream: usize,
) -> (Written, Vec<RecordedEvent>) {
    let store = db.store();
    let mut written = Written::default();
    let mut appends: Vec<(StreamId, Vec<NewEvent>)> = Vec::new();
    for n in 0..customers {
        let customer = CustomerId(Uuid::new_v4());
        let mut commands = vec![CustomerCommand::Register {
            customer_id: customer,
            email: format!("c{n}@example.com"),
            name: format!("Customer {n}"),
            currency: Currency::EUR,
            at: t(0),
        }];
        commands.extend((1..per_stream).map(|i| CustomerCommand::DepositBalance {
            amount: eur(100 + i as i64),
            at: t(i as i64),
        }));
        let stream = StreamId::new(Customer::CATEGORY, customer).expect("stream id");
        appends.push((stream, decided::<Customer>(commands)));
        written.customers.push(customer);
    }
    for n in 0..products {
        let (product, sku) = (ProductId(Uuid::new_v4()), SkuId(Uuid::new_v4()));
        let mut commands = vec![
            ProductCommand::CreateProduct {
                product_id: product,
                title: format!("Product {n}"),
                description: "made for replays".into(),
                at: t(0),
            },
            ProductCommand::AddSku {
                sku_id: sku,
                price: eur(1_000 + n as i64),
                attributes: Default::default(),
                at: t(1),
            },
        ];
        commands.extend((2..per_stream).map(|i| ProductCommand::RestockSku {
            sku_id: sku,
            quantity: 1 + (i % 5) as u32,
            at: t(i as i64),
        }));
        let stream = StreamId::new(Product::CATEGORY, product).expect("stream id");
        appends.push((stream, decided::<Product>(commands)));
        written.products.push(product);
    }
    let before = db.event_count().await;
    futures::stream::iter(appends)
        .for_each_concurrent(8, |(stream, events)| {
            let store: &EventStore = &store;
            async move {
                store
                    .append(&stream, ExpectedVersion::NoStream, &events)
                    .await
                    .expect("append");
            }
        })
        .await;
    let events = db.all_events().await;
    let new = events.len() - before as usize;
    (written, events[events.len() - new..].to_vec())
}

/// Waits until a row of `model`'s registry matches `reached` while `replay` still runs; fails
/// if the replay ends first or after `within`.
async fn while_running(
    fixture: &Fixture,
    replay: &mut Worker,
    model: &str,
    within: Duration,
    reached: impl Fn(&(i32, String, i64, i64)) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = replay.0.try_wait().expect("try_wait") {
            panic!("{model}: the replay ended ({status}) before the point the test needs");
        }
        if fixture.registry(model).await.iter().any(&reached) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{model}: the replay did not get there in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replay_killed_half_way_and_run_again_finishes_and_equals_the_live_model() {
    let fixture = Fixture::new().await;
    fixture.build().await;
    // 40 000 events: 1 000 customers and 1 000 products of 20 events each.
    let (_, events) = write_log(&fixture.db, 1_000, 1_000, 20).await;
    assert_eq!(events.len(), 40_000);
    fixture.apply_live(&["customers", "catalog"], &events).await;

    for model in ["customers", "catalog"] {
        let live = fixture.live(model).await.expect("a live generation");
        let epoch = fixture.epoch(model).await;
        let before = fixture.snapshot(model).await;
        let next = live + 1;

        // Pages of 200 events: 200 pages, slow enough to catch half way.
        let mut replay = fixture.spawn(&["replay", model], 200);
        while_running(
            &fixture,
            &mut replay,
            model,
            Duration::from_secs(60),
            |row| row.0 == next && row.1 == "building" && row.2 * 2 >= row.3,
        )
        .await;
        // Its progress is served as metrics while it runs.
        let position = fixture.replay_metric("position", model);
        let head = fixture.replay_metric("head", model);
        assert!(
            position.is_some_and(|position| position > 0.0) && head >= position,
            "{model}: replay metrics position {position:?}, head {head:?}"
        );
        kill_hard(replay);

        // The live generation is untouched and the build waits to be resumed.
        assert_eq!(fixture.live(model).await, Some(live), "{model}");
        assert_eq!(
            fixture.status(model, "building").await,
            vec![next],
            "{model}"
        );
        assert_eq!(
            fixture.epoch(model).await,
            epoch,
            "{model}: the epoch moved"
        );
        assert_eq!(
            fixture.snapshot(model).await,
            before,
            "{model}: the live model changed"
        );
        let (_, _, checkpoint, head) = fixture
            .registry(model)
            .await
            .into_iter()
            .find(|row| row.0 == next)
            .unwrap();
        assert!(
            checkpoint < head,
            "{model}: the build had finished ({checkpoint}/{head})"
        );

        let again = fixture.cli_paged(&["replay", model], 200);
        let text = succeeded(&again, "the second replay");
        assert!(
            text.contains(&format!("{model}: generation {next} live (was {live})"))
                && text.contains("resumed"),
            "{text}"
        );
        assert_eq!(fixture.live(model).await, Some(next), "{model}");
        assert!(fixture.status(model, "building").await.is_empty());
        if model == "catalog" {
            let epoch = fixture.epoch(model).await.expect("an epoch");
            assert!(epoch.starts_with(&format!("g{next}.v")), "{epoch}");
        }
        // The same log, so the same model; and it equals a rebuild.
        assert_eq!(fixture.snapshot(model).await, before, "{model}");
        let verify = fixture.cli(&["verify", model]);
        let text = succeeded(&verify, "verify");
        assert!(text.contains(&format!("{model}: 0 differences")), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_replay_of_a_model_refuses_while_one_runs() {
    let fixture = Fixture::new().await;
    fixture.build().await;
    let (_, events) = write_log(&fixture.db, 300, 100, 20).await;
    fixture.apply_live(&["customers", "catalog"], &events).await;

    // Pages of one event over 8 000: a replay that runs for many seconds.
    let mut first = fixture.spawn(&["replay", "customers"], 1);
    while_running(
        &fixture,
        &mut first,
        "customers",
        Duration::from_secs(30),
        |row| row.1 == "building" && row.2 > 0,
    )
    .await;

    for args in [["replay", "customers"], ["verify", "customers"]] {
        let refused = fixture.cli(&args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}: {refused:?}");
        assert!(
            stderr(&refused).contains("a replay or verify of customers is already running"),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    // Another model is not held up.
    let other = fixture.cli(&["replay", "catalog"]);
    let text = succeeded(&other, "a replay of another model");
    assert!(
        text.contains("catalog: generation 2 live (was 1)"),
        "{text}"
    );
    assert!(
        first.0.try_wait().expect("try_wait").is_none(),
        "the first replay ended before the others ran: the test proved nothing"
    );
    assert_eq!(fixture.status("customers", "building").await, vec![2]);

    // A crash releases the lock with its connection: the next replay runs and resumes.
    kill_hard(first);
    let resumed = fixture.cli(&["replay", "customers"]);
    let text = succeeded(&resumed, "the replay after the crash");
    assert!(
        text.contains("customers: generation 2 live (was 1)") && text.contains("resumed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_reports_nothing_after_a_normal_run_and_every_injected_difference() {
    let fixture = Fixture::new().await;
    fixture.build().await;
    let (written, events) = write_log(&fixture.db, 200, 50, 5).await;
    let models: Vec<&str> = read_models::all().iter().map(Projection::name).collect();
    fixture.apply_live(&models, &events).await;

    let all = fixture.cli(&["verify", "all"]);
    let text = succeeded(&all, "verify all after a normal run");
    for model in &models {
        assert!(text.contains(&format!("{model}: 0 differences")), "{text}");
    }

    // One field of one row of a PostgreSQL model.
    let customer = written.customers[17].0;
    sqlx::query("UPDATE rm_customers SET name = 'x' WHERE customer_id = $1")
        .bind(customer)
        .execute(&fixture.db.pool)
        .await
        .unwrap();
    // One key of the live generation of a Redis model, found as a reader finds it.
    let product = written.products[3].0;
    let epoch = fixture.epoch("catalog").await.expect("an epoch");
    let generation = epoch
        .strip_prefix('g')
        .and_then(|rest| rest.split_once(".v"))
        .map(|(generation, _)| generation.to_owned())
        .expect("epoch g<N>.v<V>");
    let key = format!(
        "{}:catalog:g{generation}:product:{product}",
        fixture.prefix()
    );
    let deleted: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut fixture.redis().await)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "{key} existed");

    let schemas = fixture.generation_schemas().await;
    let keys = fixture.redis_keys().await;
    let mut snapshots = Vec::new();
    for model in &models {
        snapshots.push(fixture.snapshot(model).await);
    }

    let customers = fixture.cli(&["verify", "customers"]);
    assert_eq!(customers.status.code(), Some(1), "{customers:?}");
    let text = stdout(&customers);
    assert!(
        text.contains(&format!(
            "customers: rm_customers [{customer}] name: live \"x\", rebuilt \"Customer 17\""
        )),
        "{text}"
    );
    assert!(text.contains("customers: 1 differences"), "{text}");

    let catalog = fixture.cli(&["verify", "catalog"]);
    assert_eq!(catalog.status.code(), Some(1), "{catalog:?}");
    let text = stdout(&catalog);
    let line = text
        .lines()
        .find(|line| line.contains(&format!("product:{product}")))
        .unwrap_or_else(|| panic!("no difference names product:{product}:\n{text}"));
    assert!(line.contains("live null, rebuilt {"), "{line}");
    assert!(text.contains("catalog: 1 differences"), "{text}");

    // `verify all` reports both and exits 1 too.
    let all = fixture.cli(&["verify", "all"]);
    assert_eq!(all.status.code(), Some(1), "{all:?}");
    let text = stdout(&all);
    assert!(
        text.contains("customers: 1 differences") && text.contains("catalog: 1 differences"),
        "{text}"
    );
    assert!(text.contains("orders: 0 differences"), "{text}");

    // The scratch generations are gone, and verify wrote nothing live.
    for model in &models {
        assert!(
            fixture.status(model, "building").await.is_empty(),
            "{model}: a building generation is left"
        );
        let verifies: Vec<String> = sqlx::query_scalar(
            "SELECT status FROM read_model_generations \
             WHERE projection = $1 AND purpose = 'verify'",
        )
        .bind(model)
        .fetch_all(&fixture.db.pool)
        .await
        .unwrap();
        assert!(
            !verifies.is_empty() && verifies.iter().all(|status| status == "dropped"),
            "{model}: {verifies:?}"
        );
    }
    assert_eq!(fixture.generation_schemas().await, schemas);
    assert_eq!(fixture.redis_keys().await, keys);
    for (model, before) in models.iter().zip(&snapshots) {
        assert_eq!(&fixture.snapshot(model).await, before, "{model} changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_makes_the_previous_generation_live_again_and_equal_to_a_rebuild() {
    let fixture = Fixture::new().await;
    fixture.build().await;
    let models = ["customers", "catalog"];
    let (_, events) = write_log(&fixture.db, 100, 100, 5).await;
    fixture.apply_live(&models, &events).await;

    for model in models {
        let first = fixture.live(model).await.expect("a live generation");
        let (second, third) = (first + 1, first + 2);
        let text = succeeded(&fixture.cli(&["replay", model]), "the first replay");
        assert!(
            text.contains(&format!("{model}: generation {second} live (was {first})")),
            "{text}"
        );
        // Events the live generation applies after each switch: the rolled-back one must catch
        // up with them.
        let (_, more) = write_log(&fixture.db, 10, 10, 5).await;
        fixture.apply_live(&models, &more).await;
        let text = succeeded(&fixture.cli(&["replay", model]), "the second replay");
        assert!(
            text.contains(&format!("{model}: generation {third} live (was {second})")),
            "{text}"
        );
        let (_, more) = write_log(&fixture.db, 10, 10, 5).await;
        fixture.apply_live(&models, &more).await;
        let before = fixture.snapshot(model).await;

        let rolled = fixture.cli(&["replay", model, "--rollback"]);
        let text = succeeded(&rolled, "the rollback");
        assert!(
            text.contains(&format!(
                "{model}: rolled back to generation {second} (was {third})"
            )),
            "{text}"
        );
        assert_eq!(fixture.live(model).await, Some(second), "{model}");
        assert!(fixture.status(model, "retired").await.contains(&third));
        if model == "catalog" {
            let epoch = fixture.epoch(model).await.expect("an epoch");
            assert!(epoch.starts_with(&format!("g{second}.v")), "{epoch}");
        }
        assert_eq!(fixture.snapshot(model).await, before, "{model}");
        let text = succeeded(
            &fixture.cli(&["verify", model]),
            "verify after the rollback",
        );
        assert!(text.contains(&format!("{model}: 0 differences")), "{text}");

        // The rolled-back generation keeps taking live batches.
        let (_, more) = write_log(&fixture.db, 5, 5, 5).await;
        fixture.apply_live(&models, &more).await;
        let text = succeeded(&fixture.cli(&["verify", model]), "verify after more events");
        assert!(text.contains(&format!("{model}: 0 differences")), "{text}");
    }
}
