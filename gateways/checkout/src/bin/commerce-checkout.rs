//! `commerce-checkout`: the checkout process manager and its operator command.
//!
//! ```text
//! commerce-checkout run            consume and poll deadlines until SIGTERM / ctrl-c
//! commerce-checkout stuck [N]      list checkouts past their deadline and not final (at most N)
//! ```
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

use anyhow::{Context, bail};
use checkout::deadlines::Deadlines;
use settings::Settings;

const USAGE: &str = "usage:
  commerce-checkout run
  commerce-checkout stuck [LIMIT]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match cli().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn cli() -> anyhow::Result<()> {
    server::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        ["run"] => {
            let settings = Settings::load().context("load settings")?;
            let app = checkout::App::build(&settings)
                .await
                .context("start the checkout process manager")?;
            app.run_until_stopped().await.context("stop")?;
            Ok(())
        }
        ["stuck", rest @ ..] => {
            let limit: i64 = match rest {
                [] => 100,
                [limit] => limit.parse().context("LIMIT must be a number")?,
                _ => bail!("{USAGE}"),
            };
            let settings = Settings::load().context("load settings")?;
            let pool = event_store::connect_lazy(&settings.database).context("database")?;
            let stuck = Deadlines::new(pool)
                .stuck(settings.checkout.stuck_after(), limit)
                .await
                .context("read the deadline table")?;
            if stuck.is_empty() {
                println!("no stuck checkouts");
            }
            for overdue in stuck {
                println!(
                    "checkout-{} due {} (stream checkout-{})",
                    overdue.order_id,
                    overdue.due_at.to_rfc3339(),
                    overdue.order_id
                );
            }
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}
