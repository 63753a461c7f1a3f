//! `commerce-load`: runs virtual customers against the shop and prints what they saw.
//!
//! ```text
//! commerce-load --users 16 --duration 30s          # closed loop: 16 customers, flows back to back
//! commerce-load --rate 50 --duration 5m --json     # open loop: 50 flows/s started on schedule
//! ```
//! Endpoints come from the settings (`APP_CHECKOUT__<SERVICE>_ENDPOINT` for the command
//! services, `APP_HTTP__LISTEN` for the HTTP API) unless a flag names them; tokens are signed
//! with `APP_AUTH__JWT_SECRET` / `APP_AUTH__ISSUER`, as the processes check them. Exits 1 when
//! the run saw an unexpected error or could not set up, 0 otherwise. Ctrl-C ends the timed
//! phase early and still prints the report.

use std::{process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use loadgen::{Endpoints, ErrorKind, LoadConfig, Weights};

const USAGE: &str =
    "usage: commerce-load [--users N] [--duration 30s|5m|500ms] [--rate FLOWS_PER_SEC]
  [--weights browse=10,detail=5,add_to_cart=2,view_cart=3,checkout=1] [--seed N]
  [--products N] [--stock N] [--balance CENTS] [--settle 30s] [--tolerate-faults] [--json]
  [--customer URL] [--product URL] [--cart URL] [--order URL] [--http URL]";

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let settings = settings::Settings::load()?;
    settings.require_auth()?;
    let mut config =
        LoadConfig::for_endpoints(Endpoints::from_settings(&settings), settings.auth.clone());
    config.users = 8;
    let json = parse(std::env::args().skip(1), &mut config)?;
    let report = loadgen::run(config, async {
        tokio::signal::ctrl_c().await.ok();
    })
    .await?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Applies the flags to `config`; whether `--json` was given.
fn parse(mut args: impl Iterator<Item = String>, config: &mut LoadConfig) -> anyhow::Result<bool> {
    let mut json = false;
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--users" => config.users = value()?.parse().context("--users takes a number")?,
            "--duration" => config.duration = Some(duration(&value()?)?),
            "--rate" => config.rate = Some(value()?.parse().context("--rate takes flows/s")?),
            "--weights" => config.weights = Weights::parse(&value()?)?,
            "--seed" => config.seed = value()?.parse().context("--seed takes a number")?,
            "--products" => config.products = value()?.parse().context("--products: a number")?,
            "--stock" => config.stock = value()?.parse().context("--stock takes a number")?,
            "--balance" => config.balance = value()?.parse().context("--balance: euro cents")?,
            "--settle" => config.settle_timeout = duration(&value()?)?,
            "--customer" => config.endpoints.customer = value()?,
            "--product" => config.endpoints.product = value()?,
            "--cart" => config.endpoints.cart = value()?,
            "--order" => config.endpoints.order = value()?,
            "--http" => config.endpoints.http = value()?,
            "--tolerate-faults" => config.tolerate = ErrorKind::during_faults(),
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    Ok(json)
}

/// `30s`, `5m`, `500ms` or plain seconds.
fn duration(text: &str) -> anyhow::Result<Duration> {
    let invalid = || format!("{text:?} is not a duration (30s, 5m, 500ms)");
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |at| text.split_at(at));
    let number: f64 = number.parse().with_context(invalid)?;
    let seconds = match unit {
        "ms" => number / 1_000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3_600.0,
        _ => bail!(invalid()),
    };
    Duration::try_from_secs_f64(seconds).with_context(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2").unwrap(), Duration::from_secs(2));
        assert!(duration("soon").is_err());
        assert!(duration("3d").is_err());
    }
}
