//! The load generator against the whole system as real processes (`checkout::testing::Stack`):
//! the library for 30 seconds (closed loop), then the `commerce-load` binary for 5 at a fixed
//! rate (open loop) on the same stack (one stack: PostgreSQL's connection budget fits only one or
//! two at a time); and the binary against endpoints where nothing listens. Needs
//! `cargo build --workspace --bins` first.

use std::{
    collections::BTreeMap,
    net::TcpListener,
    process::{Command, Output},
    time::Duration,
};

use checkout::testing::{Stack, StackOptions};
use event_store::StreamId;
use loadgen::{Acknowledged, Endpoints, Flow, LoadConfig};
use settings::ExposeSecret;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_seconds_of_storefront_load_see_no_unexpected_error_and_lose_no_acknowledged_command()
 {
    let stack = Stack::start(StackOptions::default()).await;
    let endpoints = Endpoints::loopback(&stack.ports).expect("the stack has every role's port");
    let mut config = LoadConfig::for_endpoints(endpoints.clone(), stack.db.settings.auth.clone());
    config.users = 4;
    config.duration = Some(Duration::from_secs(30));

    let report = loadgen::run(config, std::future::pending())
        .await
        .expect("the setup succeeds");
    println!("{report}");

    assert_eq!(report.unexpected, 0, "{report}");
    for flow in Flow::ALL {
        let count = report.flows.get(&flow).map_or(0, |line| line.count);
        assert!(count > 0, "flow {} never ran:\n{report}", flow.name());
    }
    assert!(
        report.purchases.completed >= 1,
        "no purchase completed:\n{report}"
    );
    // Setup (4 customers × 2, 20 products × 3) and at least one add and one checkout.
    assert!(report.acknowledged.len() > 4 * 2 + 20 * 3, "{report}");
    assert_in_the_log(&stack, &report.acknowledged).await;

    // The binary in open loop, on the same stack, with the same endpoints and signing settings.
    let output = commerce_load(
        &endpoints,
        &stack,
        &["--duration", "5s", "--users", "2", "--rate", "10", "--json"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "commerce-load failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(json["unexpected"], 0, "{stdout}");
    assert_eq!(json["mode"], "open");
    assert_eq!(json["offered_rate"], 10.0);
    assert!(json["requests"].as_u64().unwrap_or(0) > 0, "{stdout}");
}

#[test]
fn the_binary_fails_when_nothing_listens_at_the_endpoints() {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let output = Command::new(env!("CARGO_BIN_EXE_commerce-load"))
        .args(["--duration", "1s", "--users", "1"])
        .args([
            "--customer",
            &nowhere,
            "--product",
            &nowhere,
            "--cart",
            &nowhere,
        ])
        .args(["--order", &nowhere, "--http", &nowhere])
        .output()
        .expect("commerce-load runs");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("setup failed"), "{stderr}");
}

/// Every acknowledged command's last event is in its stream, at the version and position the
/// reply named.
async fn assert_in_the_log(stack: &Stack, acknowledged: &[Acknowledged]) {
    let store = stack.store();
    let mut by_stream: BTreeMap<&str, Vec<&Acknowledged>> = BTreeMap::new();
    for ack in acknowledged {
        by_stream.entry(&ack.stream_id).or_default().push(ack);
    }
    for (stream, acks) in by_stream {
        let events = store
            .read_stream_to_end(&StreamId::parse(stream).expect("a stream id"))
            .await
            .expect("read the stream");
        let positions: BTreeMap<u64, u64> =
            events.iter().map(|e| (e.version, e.position)).collect();
        for ack in acks {
            assert_eq!(
                positions.get(&ack.version),
                Some(&ack.position),
                "{} acknowledged {ack:?}, but {stream} holds versions {:?}",
                ack.command,
                positions.keys().collect::<Vec<_>>()
            );
        }
    }
}

/// Runs the built `commerce-load` against `stack` with `args`, signing tokens as the stack does.
fn commerce_load(endpoints: &Endpoints, stack: &Stack, args: &[&str]) -> Output {
    let auth = &stack.db.settings.auth;
    Command::new(env!("CARGO_BIN_EXE_commerce-load"))
        .args(args)
        .args([
            "--customer",
            &endpoints.customer,
            "--product",
            &endpoints.product,
        ])
        .args(["--cart", &endpoints.cart, "--order", &endpoints.order])
        .args(["--http", &endpoints.http])
        .env("APP_AUTH__JWT_SECRET", auth.jwt_secret.expose_secret())
        .env("APP_AUTH__ISSUER", &auth.issuer)
        .output()
        .expect("commerce-load runs")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}
