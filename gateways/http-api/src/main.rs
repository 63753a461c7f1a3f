//! `commerce-http [--listen ADDR]`: the HTTP read API in front of the query services.
//! Configuration: see `http_api::config`.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use http_api::{App, HttpConfig};

const USAGE: &str = "usage: commerce-http [--listen ADDR]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut config = HttpConfig::load()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let address = args.next().context(USAGE)?;
                config.listen = address
                    .parse::<SocketAddr>()
                    .with_context(|| format!("invalid --listen address {address:?}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unexpected argument {other:?}\n{USAGE}"),
        }
    }
    if config.auth.uses_development_secret() {
        tracing::warn!("using the built-in development JWT secret: set APP_AUTH__JWT_SECRET");
    }
    App::build(config).await?.run_until_stopped().await?;
    Ok(())
}
