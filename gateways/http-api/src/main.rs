//! `commerce-http [--listen ADDR]`: the HTTP read API in front of the query services.
//! Configuration: see `http_api::config`.

use http_api::{App, HttpConfig};
use server::cli::{self, Invocation};

const USAGE: &str = "usage: commerce-http [--listen ADDR]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut config = HttpConfig::load()?;
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
