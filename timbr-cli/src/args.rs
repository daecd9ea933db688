//! What every program's command line shares: parsing with clap's own messages and exit
//! statuses, shell completions, and durations given in seconds within bounds.

use std::time::Duration;

use clap::{CommandFactory, Parser};

use crate::Exit;

/// Seconds between two views of a fleet (`--every` of `timbr-watch fleet` and `timbr-fleet
/// watch`, which show the same view), as clap's default text.
pub const DEFAULT_FLEET_EVERY: &str = "1";

/// Parses the process's arguments into `P`.
///
/// # Errors
///
/// `--help` and `--version` are printed (on stdout) and give [`Exit::Success`]; a usage
/// error is printed (on stderr, clap's message) and gives [`Exit::Usage`].
pub fn parse<P: Parser>() -> Result<P, Exit> {
    P::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            Exit::Usage
        } else {
            Exit::Success
        }
    })
}

/// Prints the completions of `P`'s command line for `shell` on stdout.
pub fn print_completions<P: CommandFactory>(shell: clap_complete::Shell) {
    let mut command = P::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, &mut std::io::stdout());
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundsError {
    /// Not a number at all.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A number outside the bounds (or not finite).
    #[error("{value} is not between {min} and {max}")]
    OutOfRange {
        /// What was given.
        value: f64,
        /// The least allowed.
        min: f64,
        /// The most allowed.
        max: f64,
    },
}

/// A clap value parser for a number from `min` to `max` inclusive (so never NaN or
/// infinite).
///
/// # Examples
///
/// ```
/// let rate = timbr_cli::bounded(0.001, 1e9);
/// assert_eq!(rate("20000"), Ok(20_000.0));
/// assert!(rate("0").is_err() && rate("NaN").is_err());
/// ```
pub fn bounded(
    min: f64,
    max: f64,
) -> impl Fn(&str) -> Result<f64, BoundsError> + Clone + Send + Sync + 'static {
    move |text| {
        let value: f64 = text
            .parse()
            .map_err(|_| BoundsError::NotANumber(text.to_owned()))?;
        // `contains` is false for NaN: it is refused with the rest.
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(BoundsError::OutOfRange { value, min, max })
        }
    }
}

/// A clap value parser for a duration given in seconds (`2.5`), from `min` to `max`
/// inclusive.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let timeout = timbr_cli::seconds(0.001, 86_400.0);
/// assert_eq!(timeout("2.5"), Ok(Duration::from_millis(2500)));
/// assert!(timeout("0").is_err());
/// ```
pub fn seconds(
    min: f64,
    max: f64,
) -> impl Fn(&str) -> Result<Duration, BoundsError> + Clone + Send + Sync + 'static {
    let number = bounded(min, max);
    move |text| number(text).map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_bounded() {
        let every = seconds(0.05, 3600.0);
        assert_eq!(every("0.05"), Ok(Duration::from_millis(50)));
        assert_eq!(every("3600"), Ok(Duration::from_secs(3600)));
        for bad in ["0", "0.049", "3600.5", "1e19", "NaN", "inf", "-1"] {
            assert!(
                matches!(every(bad), Err(BoundsError::OutOfRange { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            every("soon").unwrap_err().to_string(),
            "`soon` is not a number"
        );
        assert_eq!(
            every("0").unwrap_err().to_string(),
            "0 is not between 0.05 and 3600"
        );
        assert_eq!(bounded(1.0, 2.0)("1.5"), Ok(1.5));
    }
}
