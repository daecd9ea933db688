//! Watching a fleet: its [`FleetView`](crate::FleetView) again and again. The one loop
//! behind `timbr-watch fleet` and `timbr-fleet watch`, so that both show the same thing.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::{Fleet, RedisError};

/// How often a watch looks whether it should stop while it waits for the next view.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// How to watch a fleet ([`Fleet::watch`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WatchOptions {
    /// Time between two views.
    pub every: Duration,
    /// One view, then return.
    pub once: bool,
    /// Each view as one JSON line instead of a table.
    pub json: bool,
    /// Clear the screen before each table (for a terminal).
    pub clear: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            every: Duration::from_secs(1),
            once: false,
            json: false,
            clear: false,
        }
    }
}

impl Fleet {
    /// Writes the fleet's [`view`](Fleet::view) to `out` every [`WatchOptions::every`] until
    /// `stop` says so (asked every 50 ms), `out` is closed (a pipe into `head`: a quiet
    /// end), or after one view with [`WatchOptions::once`]. Tables are separated by a blank
    /// line, or drawn from the top of a cleared screen with [`WatchOptions::clear`].
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused a read.
    pub fn watch(
        &mut self,
        o: &WatchOptions,
        out: &mut dyn Write,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), RedisError> {
        loop {
            let view = self.view()?;
            let shown = if o.json {
                // Plain data: serializing it cannot fail.
                let line = serde_json::to_string(&view).unwrap_or_default();
                writeln!(out, "{line}")
            } else if o.clear {
                writeln!(out, "\x1b[2J\x1b[H{view}")
            } else {
                writeln!(out, "{view}\n")
            };
            if shown.and_then(|()| out.flush()).is_err() || o.once {
                return Ok(());
            }
            let next = Instant::now() + o.every;
            loop {
                if stop() {
                    return Ok(());
                }
                let now = Instant::now();
                if now >= next {
                    break;
                }
                std::thread::sleep(STOP_CHECK.min(next - now));
            }
        }
    }
}
