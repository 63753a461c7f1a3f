//! `commerce-payment-provider [--listen ADDR]`: the payment provider simulator
//! (`docs/payments.md`). Configuration: see `payment_provider::config`.

use payment_provider::{App, ProviderConfig};
use server::cli::{self, Invocation};

const USAGE: &str = "usage: commerce-payment-provider [--listen ADDR]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut config = ProviderConfig::from_settings(&settings::Settings::load()?)?;
    match cli::parse(std::env::args().skip(1), USAGE)? {
        Invocation::Help => println!("{USAGE}"),
        Invocation::Serve { listen } => {
            config.listen = listen.unwrap_or(config.listen);
            App::build(config).await?.run_until_stopped().await?;
        }
    }
    Ok(())
}
