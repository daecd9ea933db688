//! The one place timbr-core catches panics. Callers say what a caught panic means: a stage
//! error (in timbr-sched's executors), a sink error, a failed source, or a handler, hook or
//! plugin error ([`Supervisor::guard`](crate::machine::Supervisor::guard)).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic becomes `Err` with its message (the payload's text).
///
/// Unwind safety is asserted: after a panic, timbr keeps using only what it owns and knows
/// to be consistent (counters, its own locks, which `parking_lot` does not poison); the
/// panicking user object (a sink, a plugin) may be in any state its own code left it in.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let error = timbr_sched::TaskError::from_panic(payload);
        error.panic_message().unwrap_or_default().to_owned()
    })
}

/// Runs `f`; a panic becomes `Err` with its message — the one place timbr catches panics,
/// for connectors that run user code on threads of their own (timbr-redis decodes each
/// datum with the user's `Deserialize` on its fetching thread). As inside timbr-core, the
/// caller says what a caught panic means, counts it and reports it; a panic must never
/// end such a thread unobserved, or the machine waiting on it would wait for ever.
///
/// The panic hook still runs (and prints, by default) before `Err` comes back.
///
/// # Examples
///
/// ```
/// use timbr_core::io::catch_panic;
///
/// assert_eq!(catch_panic(|| 2 + 2), Ok(4));
/// let caught = catch_panic(|| -> u8 { panic!("bad byte {}", 7) });
/// assert_eq!(caught, Err("bad byte 7".to_owned()));
/// ```
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch(f)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(super::catch(|| 7), Ok(7));
        let caught = super::catch(|| -> u8 { panic!("no {}", "way") });
        assert_eq!(caught.unwrap_err(), "no way");
    }
}
