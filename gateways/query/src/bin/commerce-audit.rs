//! `commerce-audit`: the audit queries (`query::audit`, docs/audit.md) from a terminal, straight
//! against the database named by the settings (no gRPC, no token: whoever can reach the
//! database as a member of `commerce_audit` may audit). Reads through the same read-only path
//! as the `AuditQueries` service.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use anyhow::{Context, bail};
use event_store::{Direction, RecordedEvent, StreamId};
use query::audit::{
    self, Page, TimeRange, chain, counts,
    history::{self, HistoryRequest},
    range::{self, Filter},
    state::{self, At},
    subject,
};
use settings::Settings;

const USAGE: &str = "usage: commerce-audit [--json] <query>
  stream <stream id> [--backward] [--from VERSION] [--limit N] [--cursor C]
  chain <correlation id>
  actor <actor> --from TIME --to TIME [--limit N] [--cursor C]
  type <event type> --from TIME --to TIME [--limit N] [--cursor C]
  counts --bucket minute|hour|day --from TIME --to TIME [--by type|category]
  state <stream id> [--version V | --at TIME]
  subject <customer id> [--limit N] [--cursor C]
TIME is RFC 3339 (2026-12-07T10:00:00Z); ranges are [from, to).";

/// Flags that take no value.
const SWITCHES: [&str; 4] = ["--json", "--backward", "--help", "-h"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match cli().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The words of the command line: positional ones and `--flag [value]` ones.
struct Args {
    words: Vec<String>,
    flags: HashMap<String, Option<String>>,
}

impl Args {
    fn parse(raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let (mut words, mut flags) = (Vec::new(), HashMap::new());
        let mut raw = raw.peekable();
        while let Some(word) = raw.next() {
            if SWITCHES.contains(&word.as_str()) {
                flags.insert(word, None);
            } else if word.starts_with("--") {
                let value = raw
                    .next()
                    .with_context(|| format!("{word} needs a value"))?;
                flags.insert(word, Some(value));
            } else {
                words.push(word);
            }
        }
        Ok(Self { words, flags })
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.contains_key(flag)
    }

    fn text(&self, flag: &str) -> Option<&str> {
        self.flags.get(flag).and_then(|value| value.as_deref())
    }

    fn number<T: std::str::FromStr>(&self, flag: &str) -> anyhow::Result<Option<T>> {
        self.text(flag)
            .map(|value| {
                value
                    .parse()
                    .ok()
                    .with_context(|| format!("{flag} must be a number"))
            })
            .transpose()
    }

    fn range(&self) -> anyhow::Result<TimeRange> {
        Ok(TimeRange::parse(
            self.text("--from").unwrap_or_default(),
            self.text("--to").unwrap_or_default(),
        )?)
    }

    fn limit(&self) -> anyhow::Result<u32> {
        Ok(audit::page_size(self.number("--limit")?.unwrap_or(0))?)
    }

    fn cursor(&self) -> &str {
        self.text("--cursor").unwrap_or_default()
    }
}

async fn cli() -> anyhow::Result<()> {
    let args = Args::parse(std::env::args().skip(1))?;
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
    if args.has("--help") || args.has("-h") || words.is_empty() || words == ["help"] {
        println!("{USAGE}");
        return Ok(());
    }
    let json = args.has("--json");
    let settings = Settings::load().context("load settings")?;
    let pool = event_store::connect_lazy(&settings.database).context("database")?;
    let mut tx = audit::begin(&pool)
        .await
        .context("open the audit read path")?;
    match words.as_slice() {
        ["stream", stream] => {
            let stream = StreamId::parse(*stream)?;
            let direction = match args.has("--backward") {
                true => Direction::Backward,
                false => Direction::Forward,
            };
            let request = HistoryRequest {
                direction,
                from_version: args.number("--from")?,
                cursor: args.cursor(),
                limit: args.limit()?,
            };
            let page = history::stream_history(&mut tx, &stream, request).await?;
            if json {
                return print_json(&page);
            }
            println!("{stream}: current version {}", page.current_version);
            print_page(&page.events, page.next_cursor.as_deref());
        }
        ["chain", correlation] => {
            let correlation = correlation.parse().context("not a UUID")?;
            let chain = chain::causal_chain(&mut tx, correlation).await?;
            if json {
                return print_json(&chain);
            }
            println!(
                "correlation {}: {}",
                chain.correlation_id,
                chain.streams.join(", ")
            );
            for node in &chain.nodes {
                let indent = "  ".repeat(node.depth as usize);
                println!("{indent}{} [{}]", line(&node.event), node.link.as_str());
            }
            if chain.truncated {
                println!("(truncated at {} events)", chain::MAX_CHAIN);
            }
        }
        ["actor", actor] => {
            let filter = Filter::Actor(actor);
            let page = range::events_in_range(
                &mut tx,
                filter,
                args.range()?,
                args.cursor(),
                args.limit()?,
            );
            print_events(page.await?, json)?;
        }
        ["type", event_type] => {
            let filter = Filter::EventType(event_type);
            let page = range::events_in_range(
                &mut tx,
                filter,
                args.range()?,
                args.cursor(),
                args.limit()?,
            );
            print_events(page.await?, json)?;
        }
        ["counts"] => {
            let bucket = counts::Bucket::parse(args.text("--bucket").unwrap_or("hour"))?;
            let by = counts::GroupBy::parse(args.text("--by").unwrap_or_default())?;
            let found = counts::count_events(&mut tx, args.range()?, bucket, by).await?;
            if json {
                return print_json(&found);
            }
            for count in found {
                println!(
                    "{}  {:>8}  {}",
                    count.bucket_start.to_rfc3339(),
                    count.count,
                    count.key
                );
            }
        }
        ["state", stream] => {
            let stream = StreamId::parse(*stream)?;
            let at = match (args.number("--version")?, args.text("--at")) {
                (None, None) => At::Latest,
                (Some(version), None) => At::Version(version),
                (None, Some(at)) => At::Time(audit::parse_time("--at", at)?),
                (Some(_), Some(_)) => bail!("give at most one of --version and --at"),
            };
            let found = state::state_at(&mut tx, &stream, at).await?;
            if json {
                return print_json(&found);
            }
            println!(
                "{} at version {} ({})",
                found.stream_id,
                found.version,
                found.recorded_at.to_rfc3339()
            );
            println!("{}", serde_json::to_string_pretty(&found.state)?);
        }
        ["subject", customer] => {
            let customer = customer.parse().context("not a customer id (UUID)")?;
            let page = subject::subject_events(&mut tx, customer, args.cursor(), args.limit()?);
            print_events(page.await?, json)?;
        }
        _ => bail!("{USAGE}"),
    }
    Ok(())
}

/// One line per event: position, time, stream@version, type, actor, payload.
fn line(event: &RecordedEvent) -> String {
    format!(
        "#{} {} {}@{} {} actor={} {}",
        event.position,
        event.recorded_at.to_rfc3339(),
        event.stream_id,
        event.version,
        event.event_type,
        event.metadata.actor.as_deref().unwrap_or("-"),
        event.data
    )
}

fn print_page(events: &[RecordedEvent], next: Option<&str>) {
    for event in events {
        println!("{}", line(event));
    }
    if let Some(next) = next {
        println!("-- more: --cursor {next}");
    }
}

fn print_events(page: Page, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&page);
    }
    print_page(&page.events, page.next_cursor.as_deref());
    Ok(())
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
