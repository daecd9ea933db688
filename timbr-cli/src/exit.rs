//! How a timbr-cli program ends: one exit status per outcome, the same in every program.

use std::process::ExitCode;

/// A program's exit status. `--help` of each program and the README list the ones it uses.
///
/// # Examples
///
/// ```
/// use timbr_cli::Exit;
///
/// assert_eq!(Exit::MachineFailed.code(), 3);
/// assert_eq!(Exit::Signal(15).code(), 143);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// 0: the run did what was asked (the machine stopped or completed, the reply said
    /// `ok`, every record arrived well formed).
    Success,
    /// 1: the run failed: no peer, no reply, a check failed, loss seen, Redis or an address
    /// could not be used.
    Failed,
    /// 2: the command line was wrong (clap's usage error).
    Usage,
    /// 3: the watched machine ended `failed`.
    MachineFailed,
    /// 128 + the signal: a signal ended the run (after it said what it had).
    Signal(i32),
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::MachineFailed => 3,
            // Signal numbers are small; an impossible one still reads as "a signal".
            Exit::Signal(signal) => u8::try_from(128 + signal).unwrap_or(128),
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Ends a program: the exit status of `outcome`, after printing an error as
/// `PROGRAM: what failed: its causes` on stderr ([`Exit::Failed`]).
pub fn finish<E>(program: &str, outcome: Result<Exit, E>) -> ExitCode
where
    E: AsRef<dyn std::error::Error + 'static>,
{
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("{program}: {}", crate::chain(e.as_ref()));
            Exit::Failed.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_its_own_status() {
        let codes = [
            Exit::Success,
            Exit::Failed,
            Exit::Usage,
            Exit::MachineFailed,
            Exit::Signal(2),
        ]
        .map(Exit::code);
        assert_eq!(codes, [0, 1, 2, 3, 130]);
        assert_eq!(Exit::Signal(1000).code(), 128);
    }
}
