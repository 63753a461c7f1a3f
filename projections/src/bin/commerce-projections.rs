//! `commerce-projections`: the projection worker and its operator commands.
//!
//! ```text
//! commerce-projections run [--only name,name]        consume until SIGTERM / ctrl-c
//! commerce-projections parked list [--projection P]  show parked events, each with its #id
//! commerce-projections parked redrive --projection P --stream S
//! commerce-projections parked skip --id N            drop parked event #N (the oldest of its stream)
//! commerce-projections rebuild P                     P's workers wait meanwhile (its lease)
//! ```
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
use projections::Projection;
use projections::runtime::{ProjectionApp, ProjectionMetrics, ProjectionRuntime};
use server::Registry;
use settings::Settings;

const USAGE: &str = "usage:
  commerce-projections run [--only name,name]
  commerce-projections parked list [--projection P]
  commerce-projections parked redrive --projection P --stream S
  commerce-projections parked skip --id N   (N: the #id shown by parked list)
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
        ["rebuild", name] => {
            let projection = one(&all, name)?;
            let runtime = connect(&settings).await?;
            let report = runtime.rebuild(&projection).await?;
            println!(
                "{name} rebuilt from {} events ({} parked)",
                report.events, report.parked
            );
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
