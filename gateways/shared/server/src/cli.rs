//! The command line every server process shares after its own positional arguments:
//! `[--listen ADDR] [-h|--help]`. Everything else comes from the settings; the flag only beats
//! the listen address they give.

use std::net::SocketAddr;

/// Why a command line was refused; the message ends with the process's usage line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `--listen` came last, without an address.
    #[error("--listen needs an address\n{usage}")]
    MissingAddress {
        /// The process's usage line.
        usage: String,
    },
    /// The address after `--listen` is not `host:port`.
    #[error("invalid --listen address {address:?}\n{usage}")]
    InvalidAddress {
        /// What was given.
        address: String,
        /// The process's usage line.
        usage: String,
    },
    /// An argument this process does not take.
    #[error("unexpected argument {argument:?}\n{usage}")]
    Unexpected {
        /// What was given.
        argument: String,
        /// The process's usage line.
        usage: String,
    },
}

/// What the command line asks of a server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// Serve, on the `--listen` address when one was given (else the settings' address).
    Serve {
        /// The `--listen` address, if any.
        listen: Option<SocketAddr>,
    },
    /// `-h` or `--help`: print the usage line and stop.
    Help,
}

/// Reads `[--listen ADDR] [-h|--help]` from `args` (the arguments after the process's own
/// positional ones).
pub fn parse(args: impl IntoIterator<Item = String>, usage: &str) -> Result<Invocation, CliError> {
    let mut args = args.into_iter();
    let mut listen = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let address = args.next().ok_or_else(|| CliError::MissingAddress {
                    usage: usage.to_owned(),
                })?;
                listen = Some(address.parse().map_err(|_| CliError::InvalidAddress {
                    address,
                    usage: usage.to_owned(),
                })?);
            }
            "-h" | "--help" => return Ok(Invocation::Help),
            _ => {
                return Err(CliError::Unexpected {
                    argument: arg,
                    usage: usage.to_owned(),
                });
            }
        }
    }
    Ok(Invocation::Serve { listen })
}

/// Logs a warning when a process checks tokens with the built-in development secret (accepted
/// only in the `local` stage), so a misconfigured deployment is visible in its first lines.
pub fn warn_if_development_secret(auth: &settings::AuthSettings) {
    if auth.uses_development_secret() {
        tracing::warn!("using the built-in development JWT secret: set APP_AUTH__JWT_SECRET");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn listen_overrides_and_help_stops() {
        assert_eq!(
            parse(args(&[]), "usage").unwrap(),
            Invocation::Serve { listen: None }
        );
        assert_eq!(
            parse(args(&["--listen", "0.0.0.0:7000"]), "usage").unwrap(),
            Invocation::Serve {
                listen: Some("0.0.0.0:7000".parse().unwrap())
            }
        );
        assert_eq!(parse(args(&["--help"]), "usage").unwrap(), Invocation::Help);
    }

    #[test]
    fn bad_arguments_are_refused_with_the_usage_line() {
        for bad in [&["--listen"][..], &["--listen", "nowhere"], &["--verbose"]] {
            let error = parse(args(bad), "usage: commerce-x [--listen ADDR]").unwrap_err();
            assert!(
                error
                    .to_string()
                    .ends_with("usage: commerce-x [--listen ADDR]"),
                "{error}"
            );
        }
    }
}
