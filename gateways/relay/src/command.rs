//! The `commerce-relay` command line: run the relay (the default), or an operator command.

use crate::{Reanchor, ReanchorTarget};

/// What `commerce-relay` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `commerce-relay` or `commerce-relay run`: the relay process.
    Run,
    /// `commerce-relay reanchor [--name <relay>] (--after-position <N> | --from-start)
    /// [--force]`: set the checkpoint after a restore (docs/restore-safety.md). Without
    /// `--name`, the name is `relay.name` from the settings.
    Reanchor {
        /// `--name`, if given.
        name: Option<String>,
        /// `--after-position N` or `--from-start`.
        target: ReanchorTarget,
        /// `--force`: re-anchor a consistent checkpoint too (a replay; stop the relays first).
        force: bool,
    },
}

/// A command line `commerce-relay` does not understand; the message includes the usage.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}\n\n{USAGE}")]
pub struct UsageError(String);

const USAGE: &str = "usage:
  commerce-relay [run]
  commerce-relay reanchor [--name <relay>] (--after-position <N> | --from-start) [--force]";

impl Command {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, UsageError> {
        let mut args = args.into_iter();
        match args.next().as_deref() {
            None | Some("run") => match args.next() {
                None => Ok(Self::Run),
                Some(extra) => Err(UsageError(format!("unexpected argument {extra:?}"))),
            },
            Some("reanchor") => Self::parse_reanchor(args),
            Some(other) => Err(UsageError(format!("unknown command {other:?}"))),
        }
    }

    fn parse_reanchor(mut args: impl Iterator<Item = String>) -> Result<Self, UsageError> {
        let mut name = None;
        let mut target = None;
        let mut force = false;
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .ok_or_else(|| UsageError(format!("{flag} needs a value")))
            };
            let chosen = match arg.as_str() {
                "--name" => {
                    name = Some(value("--name")?);
                    None
                }
                "--after-position" => {
                    let text = value("--after-position")?;
                    let position = text.parse().map_err(|_| {
                        UsageError(format!("--after-position {text:?} is not a position"))
                    })?;
                    Some(ReanchorTarget::AfterPosition(position))
                }
                "--from-start" => Some(ReanchorTarget::Start),
                "--force" => {
                    force = true;
                    None
                }
                other => return Err(UsageError(format!("unknown argument {other:?}"))),
            };
            if let Some(chosen) = chosen
                && target.replace(chosen).is_some()
            {
                return Err(UsageError(
                    "give one of --after-position and --from-start".to_owned(),
                ));
            }
        }
        let target = target.ok_or_else(|| {
            UsageError("reanchor needs --after-position <N> or --from-start".to_owned())
        })?;
        Ok(Self::Reanchor {
            name,
            target,
            force,
        })
    }

    /// The [`Reanchor`] this command describes, with `default_name` when no `--name` was given;
    /// `None` for [`Command::Run`].
    pub fn reanchor(&self, default_name: &str) -> Option<Reanchor> {
        match self {
            Self::Run => None,
            Self::Reanchor {
                name,
                target,
                force,
            } => Some(Reanchor {
                name: name.clone().unwrap_or_else(|| default_name.to_owned()),
                target: *target,
                force: *force,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        Command::parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn no_arguments_and_run_run_the_relay() {
        assert_eq!(parse(&[]), Ok(Command::Run));
        assert_eq!(parse(&["run"]), Ok(Command::Run));
    }

    #[test]
    fn reanchor_takes_a_name_and_a_position() {
        let command = parse(&["reanchor", "--name", "main", "--after-position", "42"]).unwrap();
        assert_eq!(
            command.reanchor("default"),
            Some(Reanchor {
                name: "main".to_owned(),
                target: ReanchorTarget::AfterPosition(42),
                force: false,
            })
        );
    }

    #[test]
    fn reanchor_defaults_to_the_configured_name() {
        let command = parse(&["reanchor", "--from-start", "--force"]).unwrap();
        assert_eq!(
            command.reanchor("main"),
            Some(Reanchor {
                name: "main".to_owned(),
                target: ReanchorTarget::Start,
                force: true,
            })
        );
    }

    #[test]
    fn reanchor_without_a_single_target_is_a_usage_error() {
        assert!(parse(&["reanchor", "--name", "main"]).is_err());
        assert!(parse(&["reanchor", "--from-start", "--after-position", "1"]).is_err());
        assert!(parse(&["reanchor", "--after-position", "x"]).is_err());
        assert!(parse(&["reanchor", "--after-position"]).is_err());
        assert!(parse(&["rewind"]).is_err());
    }
}
