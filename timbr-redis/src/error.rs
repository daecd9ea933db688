//! What can go wrong before a fleet's queue or sink is usable, as typed errors.

use thiserror::Error;

/// Why a Redis queue, sink or fleet command could not start.
///
/// Once running, nothing here is fatal: a lost connection is retried with backoff and
/// reported (see [`QueueEvent`](timbr_core::io::QueueEvent)); these errors are for a wrong URL, a
/// refused authentication or a server that is not a Redis with streams, at start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("`{url}` is not a valid Redis URL")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        #[source]
        source: redis::RedisError,
    },
    /// The server could not be reached, or refused the credentials.
    #[error("cannot connect to Redis at `{url}`")]
    Connect {
        /// The URL (without its password).
        url: String,
        /// Why.
        #[source]
        source: redis::RedisError,
    },
    /// A command failed when setting up (creating the group, reading a stream…).
    #[error("Redis refused `{command}`")]
    Command {
        /// The command.
        command: &'static str,
        /// Why.
        #[source]
        source: redis::RedisError,
    },
    /// A setting is out of its bounds.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// A dead letter to re-queue does not exist.
    #[error("no dead letter `{0}` (dead letters are named by their `dead_id`, the first column of `dead list`)")]
    NoSuchDeadLetter(String),
    /// A dead letter has no datum that could be re-queued.
    #[error("dead letter `{dead_id}` has no datum to requeue: {why}; `purge` drops it")]
    NotRequeueable {
        /// The dead letter.
        dead_id: String,
        /// Why ([`DeadLetter::unrequeueable`](crate::DeadLetter::unrequeueable)).
        why: &'static str,
    },
}

/// `url` without its password (`redis://:secret@host:6379` → `redis://…@host:6379`): what
/// errors, [`RedisOptions`](crate::RedisOptions)'s `Debug` and the programs' banners and
/// hints show. A URL without credentials comes back as it is.
///
/// # Examples
///
/// ```
/// assert_eq!(
///     timbr_redis::redact_url("redis://:hunter2@127.0.0.1:6379/0"),
///     "redis://…@127.0.0.1:6379/0"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url as redact;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("redis://:secret@127.0.0.1:6379/0"),
            "redis://…@127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
