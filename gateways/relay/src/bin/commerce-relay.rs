//! `commerce-relay`: the relay process (`$all` → RocketMQ), and its operator command
//! `commerce-relay reanchor` (docs/restore-safety.md). Settings come from the usual layers
//! (`APP_DATABASE__URL`, `APP_ROCKETMQ__…`, `APP_RELAY__…`); see the `relay` crate.
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let command = relay::Command::parse(std::env::args().skip(1))?;
    let settings = settings::Settings::load()?;
    if let Some(reanchor) = command.reanchor(&settings.relay.name) {
        let pool = event_store::connect_lazy(&settings.database)?;
        println!("{}", reanchor.run(&pool).await?);
        return Ok(());
    }
    relay::Relay::build(settings)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
