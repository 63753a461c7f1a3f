//! `commerce-query [--listen ADDR]`: the gRPC query services. Configuration: see
//! `query::config`.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use query::{App, QueryConfig};

const USAGE: &str = "usage: commerce-query [--listen ADDR]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut config = QueryConfig::load()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let address = args.next().context(USAGE)?;
                config.listen = address
                    .parse::<SocketAddr>()
                    .with_context(|| format!("invalid --listen address {address:?}"))?;
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
