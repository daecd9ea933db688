//! Where a timbr program's logs go: the `tracing` events the libraries emit (timbr-core's
//! machine, datum and queue events among them), written on stderr, chosen with `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// What is written when `RUST_LOG` is not set: warnings (a panicking handler, a failed
/// source), but neither one line per failed datum (`timbr::datum`: the status counts them,
/// and shows the last) nor the queue's outages (`timbr::queue`: the programs say them in
/// their own words).
pub const DEFAULT_LOGS: &str = "warn,timbr::datum=off,timbr::queue=off";

/// Installs the program's `tracing` subscriber: events as text lines on stderr, filtered by
/// `RUST_LOG` (`RUST_LOG=timbr=info` adds every change of a machine's state,
/// `RUST_LOG=timbr::datum=warn` every failed datum with its stage and oid), else by
/// [`DEFAULT_LOGS`]. A `RUST_LOG` that does not parse is said on stderr, and the default
/// used. Does nothing if a subscriber is installed already.
pub fn init_logs() {
    init_logs_or(DEFAULT_LOGS);
}

/// As [`init_logs`], with `default` as the filter when `RUST_LOG` is not set: for a
/// program that says some events in its own words already (`timbr-fleet` prints the Redis
/// queue's events itself, so its default adds `timbr_redis=off` to [`DEFAULT_LOGS`]).
pub fn init_logs_or(default: &str) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            EnvFilter::try_new(&directives).unwrap_or_else(|e| {
                eprintln!("RUST_LOG={directives:?} is not a filter ({e}); using {default:?}");
                EnvFilter::new(default)
            })
        }
        _ => EnvFilter::new(default),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
