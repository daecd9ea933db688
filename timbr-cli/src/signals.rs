//! Ctrl-C, SIGTERM and SIGQUIT as a request to stop: the program finishes what it holds and
//! says what it has; a second signal ends the process at once.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

/// Registers the terminating signals (SIGINT, SIGTERM, SIGQUIT) and returns the number of
/// the first one that arrives (0 until then): the program polls it and stops the way its
/// `stop` does. A second signal ends the process at once, with 128 + the signal.
///
/// # Errors
///
/// A signal handler could not be installed.
pub fn stop_signals() -> std::io::Result<Arc<AtomicUsize>> {
    use signal_hook::flag;
    let signal = Arc::new(AtomicUsize::new(0));
    let forced = Arc::new(AtomicBool::new(false));
    for &sig in signal_hook::consts::TERM_SIGNALS {
        flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&forced))?;
        flag::register(sig, Arc::clone(&forced))?;
        // Signal numbers are small and positive.
        flag::register_usize(sig, Arc::clone(&signal), sig.unsigned_abs() as usize)?;
    }
    Ok(signal)
}
