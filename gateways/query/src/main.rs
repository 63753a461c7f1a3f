//! `commerce-query [--listen ADDR]`: the gRPC query services. Configuration: see
//! `query::config`.

use query::{App, QueryConfig};
use server::cli::{self, Invocation};

const USAGE: &str = "usage: commerce-query [--listen ADDR]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut config = QueryConfig::load()?;
    match cli::parse(std::env::args().skip(1), USAGE)? {
        Invocation::Help => println!("{USAGE}"),
        Invocation::Serve { listen } => {
            config.listen = listen.unwrap_or(config.listen);
            cli::warn_if_development_secret(&config.auth);
            App::build(config).await?.run_until_stopped().await?;
        }
    }
    Ok(())
}
