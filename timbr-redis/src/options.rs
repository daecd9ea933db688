//! Every setting of a fleet's queue, with its default and its bounds.

use std::fmt;
use std::time::Duration;

use crate::RedisError;

/// The most entries one read, claim or flush moves (bounds [`RedisOptions::batch`]).
pub const MAX_BATCH: usize = 10_000;
/// The most a queue may hold (bounds [`RedisOptions::capacity`]).
pub const MAX_CAPACITY: usize = 1 << 30;
/// The longest [`RedisOptions::claim_after`] may be (7 days): Redis takes idle times as
/// signed 64-bit milliseconds, and a longer wait is no claim at all.
pub const MAX_CLAIM_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// How a [`RedisQueue`](crate::RedisQueue) finds its stream and behaves on it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timbr_redis::RedisOptions;
///
/// let options = RedisOptions::new("redis://127.0.0.1:6379", "tweets")
///     .consumer("worker-1")
///     .capacity(100_000)
///     .claim_after(Duration::from_secs(30))
///     .max_deliveries(5);
/// assert_eq!(options.dead_stream(), "tweets:dead");
/// ```
///
/// Its `Debug` shows the URL without its password ([`redact_url`](crate::redact_url)).
#[derive(Clone)]
pub struct RedisOptions {
    pub(crate) url: String,
    pub(crate) stream: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) capacity: usize,
    pub(crate) batch: usize,
    pub(crate) pack: usize,
    pub(crate) block: Duration,
    pub(crate) claim_after: Duration,
    pub(crate) max_deliveries: u64,
    pub(crate) dead_stream: Option<String>,
    pub(crate) check_every: usize,
    pub(crate) backoff_max: Duration,
    pub(crate) info_every: Duration,
}

impl RedisOptions {
    /// Options for the stream `stream` on the server at `url` (`redis://[:password@]host:port[/db]`),
    /// group `timbr`, a consumer named after the host and process.
    pub fn new(url: impl Into<String>, stream: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            stream: stream.into(),
            group: "timbr".to_owned(),
            consumer: default_consumer(),
            capacity: 100_000,
            batch: 256,
            pack: 1,
            block: Duration::from_millis(100),
            claim_after: Duration::from_secs(30),
            max_deliveries: 5,
            dead_stream: None,
            check_every: 256,
            backoff_max: Duration::from_secs(2),
            info_every: Duration::from_millis(500),
        }
    }

    /// The consumer group every machine of the fleet reads in (default `timbr`).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// This machine's name in the group (default `host-pid`). A restarted machine that keeps
    /// its name first re-reads what it left pending.
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = consumer.into();
        self
    }

    /// The most entries unread or pending in the group (default 100 000; 1 to
    /// [`MAX_CAPACITY`]). Puts check it every [`check_every`](RedisOptions::check_every)
    /// puts and whenever their estimate reaches it.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How many entries one read fetches, and how many data's records and acknowledgements
    /// go to Redis in one round trip (default 256; 1 to [`MAX_BATCH`]). Fetched entries are
    /// pending under this consumer until acknowledged: a crash redelivers at most about
    /// 4½ batches — up to 1½ fetched and not yet processed (the next batch is read while
    /// the last half of this one is processed) and up to 3 processed whose records and
    /// acknowledgements were not yet applied (one being filled, one waiting, one under way).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// How long one blocking read waits on the server (default 100 ms, at most 10 s): the
    /// longest a stop waits for an idle consumer.
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// How many data a producer puts in one entry (default 1; 1 to
    /// [`MAX_PACK`](crate::MAX_PACK)): a Redis-bound fleet's throughput grows with it, since
    /// Redis then reads, claims and acknowledges entries rather than data. Only
    /// [`put_all`](crate::RedisQueue::put_all) packs (a single put is one entry); every
    /// consumer reads packed and unpacked entries alike, whatever its own setting, and
    /// reads about [`batch`](RedisOptions::batch) data at a time either way (at least one
    /// entry: a pack larger than the batch is read whole). It learns the producers' pack
    /// size from what it reads: its first read takes one entry, each later one `batch`
    /// over the largest entry of the last read (a read of small entries after large ones
    /// assumes at least half the size before, so a stream of mixed pack sizes is read in
    /// counts that at most double from one read to the next). What stays per datum is said on
    /// [`RedisQueue`](crate::RedisQueue#packing). The queue's
    /// [`capacity`](RedisOptions::capacity) counts entries, so it bounds up to
    /// `capacity × pack` data.
    pub fn pack(mut self, pack: usize) -> Self {
        self.pack = pack;
        self
    }

    /// How long an entry stays pending with another consumer before this one claims it
    /// (default 30 s; 10 ms to [`MAX_CLAIM_AFTER`]). Longer than a batch takes to process, or live
    /// consumers' entries get claimed (and processed twice).
    pub fn claim_after(mut self, claim_after: Duration) -> Self {
        self.claim_after = claim_after;
        self
    }

    /// How many deliveries an entry gets before it goes to the dead-letter stream (default
    /// 5; 2 to 1000: an entry fetched together with a poisonous one may be delivered twice).
    pub fn max_deliveries(mut self, max_deliveries: u64) -> Self {
        self.max_deliveries = max_deliveries;
        self
    }

    /// The dead-letter stream (default `<stream>:dead`).
    pub fn dead_letters(mut self, stream: impl Into<String>) -> Self {
        self.dead_stream = Some(stream.into());
        self
    }

    /// How many puts go by between two measurements of the queue's size (default 256; 1 to
    /// [`MAX_BATCH`]). With P producers the queue may exceed its capacity by at most
    /// (P − 1) × this.
    pub fn check_every(mut self, n: usize) -> Self {
        self.check_every = n;
        self
    }

    /// The longest wait between two reconnection attempts (default 2 s; 10 ms to 60 s).
    /// Waits start at 10 ms and double up to this; each is drawn at random between half
    /// its length and all of it, so that a fleet that lost Redis together does not
    /// reconnect in lockstep.
    pub fn backoff_max(mut self, max: Duration) -> Self {
        self.backoff_max = max;
        self
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The group's name.
    pub fn group_name(&self) -> &str {
        &self.group
    }

    /// The consumer's name.
    pub fn consumer_name(&self) -> &str {
        &self.consumer
    }

    /// The dead-letter stream's name.
    pub fn dead_stream(&self) -> String {
        self.dead_stream
            .clone()
            .unwrap_or_else(|| format!("{}:dead", self.stream))
    }

    /// The key counting acknowledged entries (for the fleet's balance).
    pub(crate) fn acked_key(&self) -> String {
        format!("{}:acked:{}", self.stream, self.group)
    }

    /// The key counting acknowledged data (a packed entry counts its data).
    pub(crate) fn acked_data_key(&self) -> String {
        format!("{}:acked-data:{}", self.stream, self.group)
    }

    /// The key counting re-queued dead letters (for the fleet's balance).
    pub(crate) fn requeued_key(&self) -> String {
        format!("{}:requeued", self.stream)
    }

    /// The stream of data that failed for good (`<stream>:failures`, beside the dead
    /// letters: see [`Fleet::failures`](crate::Fleet::failures)).
    pub fn failure_stream(&self) -> String {
        format!("{}:failures", self.stream)
    }

    /// The key counting failures ever written to the failure stream (for the balance).
    pub(crate) fn failed_key(&self) -> String {
        format!("{}:failed", self.stream)
    }

    /// The key counting failures replayed onto the queue's stream (for the balance).
    pub(crate) fn replayed_key(&self) -> String {
        format!("{}:replayed", self.stream)
    }

    /// The key counting purged dead letters and failures (for the fleet's balance).
    pub(crate) fn purged_key(&self) -> String {
        format!("{}:purged", self.stream)
    }

    pub(crate) fn validate(&self) -> Result<(), RedisError> {
        let bad = |what: String| Err(RedisError::Setting(what));
        if self.stream.is_empty() || self.group.is_empty() || self.consumer.is_empty() {
            return bad("stream, group and consumer names must not be empty".into());
        }
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            return bad(format!(
                "capacity {} not in 1..={MAX_CAPACITY}",
                self.capacity
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) || !(1..=MAX_BATCH).contains(&self.check_every) {
            return bad(format!("batch and check_every must be in 1..={MAX_BATCH}"));
        }
        if !(1..=crate::MAX_PACK).contains(&self.pack) {
            return bad(format!("pack {} not in 1..={}", self.pack, crate::MAX_PACK));
        }
        if !(2..=1000).contains(&self.max_deliveries) {
            return bad(format!(
                "max_deliveries {} not in 2..=1000",
                self.max_deliveries
            ));
        }
        if self.block.is_zero() || self.block > Duration::from_secs(10) {
            return bad("block must be in (0, 10 s]".into());
        }
        if self.claim_after < Duration::from_millis(10) || self.claim_after > MAX_CLAIM_AFTER {
            return bad(format!(
                "claim_after {} ms not in 10..={} ms (10 ms to 7 days)",
                self.claim_after.as_millis(),
                MAX_CLAIM_AFTER.as_millis()
            ));
        }
        if self.backoff_max < Duration::from_millis(10)
            || self.backoff_max > Duration::from_secs(60)
        {
            return bad("backoff_max must be in [10 ms, 60 s]".into());
        }
        Ok(())
    }
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &crate::redact_url(&self.url))
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .field("capacity", &self.capacity)
            .field("batch", &self.batch)
            .field("pack", &self.pack)
            .field("block", &self.block)
            .field("claim_after", &self.claim_after)
            .field("max_deliveries", &self.max_deliveries)
            .field("dead_stream", &self.dead_stream)
            .field("check_every", &self.check_every)
            .field("backoff_max", &self.backoff_max)
            .field("info_every", &self.info_every)
            .finish()
    }
}

fn default_consumer() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{RedisOptions, MAX_CLAIM_AFTER};

    #[test]
    fn claim_after_past_its_bound_is_refused_with_the_bound() {
        let o = |d| RedisOptions::new("redis://127.0.0.1:1", "s").claim_after(d);
        assert!(o(MAX_CLAIM_AFTER).validate().is_ok());
        assert!(o(Duration::from_millis(10)).validate().is_ok());
        // `--claim-after-ms` above 2^63: every XPENDING would be refused.
        for bad in [
            Duration::from_millis(u64::MAX),
            Duration::from_millis(1 << 63),
            MAX_CLAIM_AFTER + Duration::from_millis(1),
            Duration::from_millis(9),
        ] {
            let e = o(bad).validate().unwrap_err().to_string();
            assert!(e.contains("claim_after") && e.contains("7 days"), "{e}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let o = RedisOptions::new("redis://:hunter2@127.0.0.1:6379", "s");
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("127.0.0.1:6379"), "{shown}");
    }
}
