//! The queue's flags, which every `timbr-fleet` command takes, and the library's options
//! they make.

use std::time::Duration;

use clap::Args;
use timbr_redis::{
    Fleet, RedisOptions, DEFAULT_BATCH, DEFAULT_CAPACITY, DEFAULT_CLAIM_AFTER, DEFAULT_GROUP,
    DEFAULT_MAX_DELIVERIES, DEFAULT_PACK,
};

/// The queue's options, which every command takes.
#[derive(Args, Debug, Clone)]
pub(crate) struct QueueArgs {
    /// The Redis server: `redis://[:password@]host:port[/db]`.
    #[arg(long, alias = "url", value_name = "URL")]
    pub(crate) redis: String,
    /// The fleet's stream.
    #[arg(long, value_name = "S")]
    pub(crate) stream: String,
    /// The consumer group.
    #[arg(long, value_name = "G", default_value = DEFAULT_GROUP)]
    group: String,
    /// This process's name in the fleet (default host-pid). A producer continues where
    /// the last one of its name stopped; a worker first re-reads what it left pending.
    #[arg(long, value_name = "C")]
    consumer: Option<String>,
    /// Entries per read, data per write round trip.
    #[arg(long, value_name = "B", default_value_t = DEFAULT_BATCH)]
    pub(crate) batch: usize,
    /// Data a producer puts in one entry (see RedisOptions::pack).
    #[arg(long, value_name = "P", default_value_t = DEFAULT_PACK)]
    pack: usize,
    /// The most entries unread or pending.
    #[arg(long, value_name = "C", default_value_t = DEFAULT_CAPACITY)]
    capacity: usize,
    /// Claim entries another consumer left pending this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_CLAIM_AFTER.as_millis() as u64)]
    claim_after_ms: u64,
    /// Dead-letter an entry delivered this many times without an acknowledgement.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DELIVERIES)]
    max_deliveries: u64,
}

impl QueueArgs {
    /// The library's options these flags say.
    pub(crate) fn options(&self) -> RedisOptions {
        let o = RedisOptions::new(self.redis.clone(), self.stream.clone())
            .group(self.group.clone())
            .batch(self.batch)
            .pack(self.pack)
            .capacity(self.capacity)
            .claim_after(Duration::from_millis(self.claim_after_ms))
            .max_deliveries(self.max_deliveries);
        match &self.consumer {
            Some(c) => o.consumer(c.clone()),
            None => o,
        }
    }

    /// The fleet on these options, connected.
    pub(crate) fn fleet(&self) -> anyhow::Result<Fleet> {
        Ok(Fleet::connect(self.options())?)
    }
}
