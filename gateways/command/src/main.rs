//! `commerce-command <customer|product|cart|order|payment> [--listen ADDR]`: one bounded
//! context's gRPC command service. Configuration: see `command::config`.

use anyhow::Context;
use command::{App, CommandConfig, ServiceKind};
use server::cli::{self, Invocation};

const USAGE: &str = "usage: commerce-command <customer|product|cart|order|payment> [--listen ADDR]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut args = std::env::args().skip(1);
    let service: ServiceKind = args.next().context(USAGE)?.parse().context(USAGE)?;
    let mut config = CommandConfig::load(service)?;
    match cli::parse(args, USAGE)? {
        Invocation::Help => println!("{USAGE}"),
        Invocation::Serve { listen } => {
            config.listen = listen.unwrap_or(config.listen);
            cli::warn_if_development_secret(&config.auth);
            App::build(config).await?.run_until_stopped().await?;
        }
    }
    Ok(())
}
