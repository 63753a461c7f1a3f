//! `commerce-projections`: the projection worker and its operator commands.
//!
//! ```text
//! commerce-projections run [--only name,name]        consume until SIGTERM / ctrl-c
//! commerce-projections parked list [--projection P]  show parked events, each with its #id
//! commerce-projections parked redrive --projection P --stream S
//! commerce-projections parked skip --id N            drop parked event #N (the oldest of its stream)
//! commerce-projections replay P|all [--rollback]      build a new generation beside the live
//!                                                    one, switch when caught up (or roll back
//!                                                    to the retired one)
//! commerce-projections verify P|all [--json]         rebuild into a scratch generation and
//!                                                    compare; exit 1 on any difference
//! commerce-projections generations [P]               list every model's generations
//! commerce-projections generations drop P N          drop retired generation N of P
//! commerce-projections rebuild P                     the same as replay P
//! ```
//!
//! Replays and verifies show a progress bar (events/s, position, ETA) on a terminal and a log
//! line every few seconds otherwise; the same progress is in the metrics
//! (`projection_replay_position`, `…_head`, `…_events`). Readers and consumers keep using the
//! live generation throughout (docs/read-model-generations.md).
//!
//! A stream with a parked event stays stopped for its projection until none is left: fix the
//! cause and `redrive` the stream, or `skip` the event that cannot be applied (the oldest of
//! its stream; a message that did not decode has no version and can only be skipped), then
//! `redrive` the rest.
//!
//! Settings come from the usual layers (`APP_…`, see the `settings` crate). Exit status is
//! non-zero on any error.
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

use std::sync::Arc;

use anyhow::{Context, bail};
mod progress;

use projections::Projection;
use projections::runtime::{ProjectionApp, ProjectionMetrics, ProjectionRuntime};
use server::{MetricsServer, Registry};
use settings::Settings;

const USAGE: &str = "usage:
  commerce-projections run [--only name,name]
  commerce-projections parked list [--projection P]
  commerce-projections parked redrive --projection P --stream S
  commerce-projections parked skip --id N   (N: the #id shown by parked list)
  commerce-projections replay P|all [--rollback]
  commerce-projections verify P|all [--json]
  commerce-projections generations [P]
  commerce-projections generations drop P N
  commerce-projections rebuild P";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match cli().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One readable line (with causes), not a backtrace: this is an operator's tool.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn cli() -> anyhow::Result<()> {
    server::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::load().context("load settings")?;
    let all = projections::read_models::all();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["run", rest @ ..] => run(&settings, select(all, flag(rest, "--only"))?).await,
        ["parked", "list", rest @ ..] => {
            let runtime = connect(&settings).await?;
            let rows = runtime.parked(flag(rest, "--projection")).await?;
            if rows.is_empty() {
                println!("no parked events");
            }
            for row in rows {
                let version = row.version.map_or("?".to_owned(), |v| v.to_string());
                println!(
                    "#{} {} {} v{} (attempts {}, parked {}): {}",
                    row.id,
                    row.projection,
                    row.stream_id,
                    version,
                    row.attempts,
                    row.parked_at.to_rfc3339(),
                    row.error
                );
            }
            Ok(())
        }
        ["parked", "redrive", rest @ ..] => {
            let projection = one(&all, required(rest, "--projection")?)?;
            let stream = required(rest, "--stream")?;
            let runtime = connect(&settings).await?;
            let report = runtime.redrive(&projection, stream).await?;
            println!(
                "{stream}: {} parked events applied, none left",
                report.applied
            );
            Ok(())
        }
        ["parked", "skip", rest @ ..] => {
            let id: i64 = required(rest, "--id")?
                .trim_start_matches('#')
                .parse()
                .context("--id must be the number parked list shows")?;
            let runtime = connect(&settings).await?;
            let parked = runtime.parked(None).await?;
            let row = parked
                .iter()
                .find(|row| row.id == id)
                .with_context(|| format!("no parked event #{id} (see parked list)"))?;
            let projection = one(&all, &row.projection)?;
            let skipped = runtime.skip(&projection, id).await?;
            let stream = &skipped.stream_id;
            let left = runtime
                .parked(Some(projection.name()))
                .await?
                .into_iter()
                .filter(|row| row.stream_id == *stream)
                .count();
            let version = skipped.version.map_or("?".to_owned(), |v| v.to_string());
            println!(
                "#{id} ({} {stream} v{version}) skipped; {left} parked events of {stream} left",
                projection.name()
            );
            if left > 0 {
                println!(
                    "re-drive them: parked redrive --projection {} --stream {stream}",
                    projection.name()
                );
            }
            Ok(())
        }
        ["rebuild" | "replay", name] => {
            let chosen = one_or_all(&all, name)?;
            let (runtime, _metrics) = connect_serving_metrics(&settings).await?;
            for projection in chosen {
                let reporter = progress::Reporter::new(projection.name(), "replay");
                let report = runtime.replay(&projection, Some(reporter.sink())).await;
                reporter.finish();
                let report = report?;
                println!(
                    "{}: generation {} live (was {}), {} events{}{}",
                    projection.name(),
                    report.generation,
                    report.replaced,
                    report.events,
                    if report.resumed { ", resumed" } else { "" },
                    if report.parked > 0 {
                        format!(", {} parked (see parked list)", report.parked)
                    } else {
                        String::new()
                    }
                );
            }
            Ok(())
        }
        ["replay", name, "--rollback"] | ["replay", "--rollback", name] => {
            let chosen = one_or_all(&all, name)?;
            let (runtime, _metrics) = connect_serving_metrics(&settings).await?;
            for projection in chosen {
                let reporter = progress::Reporter::new(projection.name(), "rollback");
                let report = runtime.rollback(&projection, Some(reporter.sink())).await;
                reporter.finish();
                let report = report?;
                println!(
                    "{}: rolled back to generation {} (was {})",
                    projection.name(),
                    report.generation,
                    report.replaced
                );
            }
            Ok(())
        }
        ["verify", name, rest @ ..] => {
            let json = rest.contains(&"--json");
            let chosen = one_or_all(&all, name)?;
            let (runtime, _metrics) = connect_serving_metrics(&settings).await?;
            let mut differ = false;
            for projection in chosen {
                let reporter = progress::Reporter::new(projection.name(), "verify");
                let report = runtime.verify(&projection, Some(reporter.sink())).await;
                reporter.finish();
                let report = report?;
                differ |= !report.differences.is_empty();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "projection": projection.name(), "report": report })
                    );
                    continue;
                }
                for difference in &report.differences {
                    println!("{}: {difference}", projection.name());
                }
                println!(
                    "{}: {} differences ({} events replayed)",
                    projection.name(),
                    report.differences.len(),
                    report.events
                );
            }
            if differ {
                // Exit status 1: the live model differs from a rebuild.
                std::process::exit(1);
            }
            Ok(())
        }
        ["generations", "drop", name, number] => {
            let projection = one(&all, name)?;
            let number: u32 = number.parse().context("N must be a generation number")?;
            let runtime = connect(&settings).await?;
            runtime.drop_generation(&projection, number).await?;
            println!("{name}: generation {number} dropped");
            Ok(())
        }
        ["generations", rest @ ..] => {
            let selected = match rest {
                [] => all.clone(),
                [name] => vec![one(&all, name)?],
                _ => bail!("{USAGE}"),
            };
            let runtime = connect(&settings).await?;
            for projection in selected {
                let rows = runtime.generations(projection.name()).await?;
                if rows.is_empty() {
                    println!(
                        "{}: generation 0 (from before generations)",
                        projection.name()
                    );
                }
                for row in rows {
                    println!(
                        "{} g{} {:?} ({:?}, v{}): {} events, checkpoint {}, started {}{}{}",
                        row.projection,
                        row.generation,
                        row.status,
                        row.purpose,
                        row.model_version,
                        row.events,
                        row.checkpoint,
                        row.started_at.to_rfc3339(),
                        row.switched_at
                            .map(|at| format!(", live since {}", at.to_rfc3339()))
                            .unwrap_or_default(),
                        row.retired_at
                            .map(|at| format!(", retired {}", at.to_rfc3339()))
                            .unwrap_or_default(),
                    );
                }
            }
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

async fn run(settings: &Settings, projections: Vec<Projection>) -> anyhow::Result<()> {
    if projections.is_empty() {
        bail!("no projections to run");
    }
    let names: Vec<&str> = projections.iter().map(Projection::name).collect();
    tracing::info!(?names, "starting projections");
    let app = ProjectionApp::build(settings, projections).await?;
    app.run_until_stopped().await?;
    Ok(())
}

async fn connect(settings: &Settings) -> anyhow::Result<Arc<ProjectionRuntime>> {
    let metrics = ProjectionMetrics::register(&mut Registry::default());
    Ok(Arc::new(
        ProjectionRuntime::connect(settings, metrics).await?,
    ))
}

/// A runtime whose metrics (a replay's progress among them) are served on
/// `projections.replay_metrics_listen` while the command runs. An address already in use (a
/// second replay on this host) only costs the endpoint: the replay runs anyway.
async fn connect_serving_metrics(
    settings: &Settings,
) -> anyhow::Result<(Arc<ProjectionRuntime>, Option<MetricsServer>)> {
    let mut registry = Registry::default();
    let metrics = ProjectionMetrics::register(&mut registry);
    let runtime = Arc::new(ProjectionRuntime::connect(settings, metrics).await?);
    let listen = &settings.projections.replay_metrics_listen;
    let server = match MetricsServer::start_unless_empty(listen, registry).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("progress metrics not served on {listen}: {error}");
            None
        }
    };
    Ok((runtime, server))
}

/// The value after `name` in `args`, if any.
fn flag<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|arg| *arg == name)
        .and_then(|index| args.get(index + 1).copied())
}

fn required<'a>(args: &[&'a str], name: &str) -> anyhow::Result<&'a str> {
    flag(args, name).with_context(|| format!("{name} is required\n{USAGE}"))
}

fn one(all: &[Projection], name: &str) -> anyhow::Result<Projection> {
    all.iter()
        .find(|projection| projection.name() == name)
        .cloned()
        .with_context(|| format!("unknown projection {name}; known: {}", known(all)))
}

fn one_or_all(all: &[Projection], name: &str) -> anyhow::Result<Vec<Projection>> {
    if name == "all" {
        Ok(all.to_vec())
    } else {
        Ok(vec![one(all, name)?])
    }
}

fn select(all: Vec<Projection>, only: Option<&str>) -> anyhow::Result<Vec<Projection>> {
    let Some(only) = only else {
        return Ok(all);
    };
    only.split(',').map(|name| one(&all, name.trim())).collect()
}

fn known(all: &[Projection]) -> String {
    all.iter()
        .map(Projection::name)
        .collect::<Vec<_>>()
        .join(", ")
}
