//! `commerce-token <subject> [role…] [--ttl SECONDS]`: prints a bearer token signed with the
//! configured secret (`APP_AUTH__JWT_SECRET`, `APP_AUTH__ISSUER`), for local sessions and demos.
//!
//! ```text
//! commerce-token admin-ann admin                                 # an operator
//! commerce-token 6f1c2d3e-0000-4000-8000-000000000001 customer   # a customer (the default role)
//! ```
//! Production tokens come from the identity provider, not from this tool.

use std::time::Duration;

use anyhow::{Context, bail};
use auth::{AuthConfig, Claims, ROLE_ADMIN, ROLE_CUSTOMER, ROLE_SERVICE, issue_token};

const USAGE: &str = "usage: commerce-token <subject> [customer|admin|service…] [--ttl SECONDS]";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let subject = args.next().context(USAGE)?;
    let mut roles = Vec::new();
    let mut ttl = Duration::from_secs(3600);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ttl" => {
                let secs = args.next().context(USAGE)?;
                ttl = Duration::from_secs(secs.parse().context("--ttl takes whole seconds")?);
            }
            ROLE_CUSTOMER | ROLE_ADMIN | ROLE_SERVICE => roles.push(arg),
            other => bail!("unknown role or option {other:?}\n{USAGE}"),
        }
    }
    if roles.is_empty() {
        roles.push(ROLE_CUSTOMER.to_owned());
    }
    let settings = settings::Settings::load()?;
    settings.require_auth()?;
    let auth: AuthConfig = settings.auth;
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    println!(
        "{}",
        issue_token(&auth, &Claims::new(subject, &roles, &auth.issuer, ttl))
    );
    Ok(())
}
