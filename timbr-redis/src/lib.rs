//! A fleet of timbr machines on one Redis Stream: durable, shared, at-least-once.
//!
//! A machine's queue normally lives in its process: a crash loses what was queued, and one
//! host is the ceiling. This crate puts a well-operated broker between producers and
//! workers instead — **Redis Streams with consumer groups** — so that any number of
//! machines on any number of hosts share one stream, and any of them can be killed at any
//! time without losing a datum.
//!
//! - [`RedisQueue`] is a [`timbr_core::Queue`]: producers `XADD`, every machine reads in one
//!   group (`XREADGROUP`) and acknowledges an entry (`XACK`) only once its record was
//!   accepted by the sink. What a dead consumer left pending is claimed after
//!   [`claim_after`](RedisOptions::claim_after); an entry delivered
//!   [`max_deliveries`](RedisOptions::max_deliveries) times (say, one that aborts its
//!   worker), or one that cannot be decoded, goes to a dead-letter stream with the reason.
//!   Outages are retried with backoff and reported. The queue is bounded.
//! - [`RedisSink`] writes records to a stream, each with the entry id it came from, batched
//!   with the acknowledgements when made by [`RedisQueue::sink`] — or
//!   [`packed`](RedisSink::packed), the records of one input pack as one entry, which
//!   [`Fleet::result_records`] unpacks.
//! - **Failures as work**: a datum whose stage said no for good goes to a failure stream
//!   beside the dead letters, with its input, stage, error, attempts and origin, in one
//!   script with its entry's acknowledgement; a datum waiting for its retry keeps its entry,
//!   touched so that no other consumer claims it while its worker lives; [`Fleet::failures`],
//!   [`Fleet::replay_all`] (back on the queue, keeping its origin) and
//!   [`Fleet::purge_failures`] handle them, and [`RedisFailureStore`] makes the stream a
//!   machine's failure store (its status and `Machine::replay_failures` see the fleet's).
//! - [`RedisStatus`] shows the shared queue in a machine's status; [`Fleet`] shows the whole
//!   fleet's [`Balance`] (produced = acked + pending + unread + dead + failed + purged),
//!   lists and re-queues dead letters (or purges them after inspection), and counts
//!   duplicates in a results stream. The `timbr-fleet` program (in the timbr-cli package)
//!   does the same from a shell, and runs producers and workers.
//! - [`Producer`] puts a sequence of data from a position it keeps in Redis (written with its
//!   entries, in one transaction): a producer killed and started again under its name
//!   continues where it stopped instead of putting everything twice.
//! - [`Announce`] makes each machine (worker or producer, on any host) announce itself in
//!   Redis once a second, and how it ended at its last; [`Fleet::view`] reads every
//!   machine back (over all its lives: one started again under its name adds to its earlier
//!   counts) with the fleet's totals and the queue as Redis sees it — what
//!   `timbr-watch fleet --redis URL --stream S` and `timbr-fleet watch` show ([`Fleet::watch`]).
//! - Outages, refusals, dead letters and claims reach the handler of a machine built on a
//!   [`RedisQueue`] as [`Event::Queue`](timbr_core::Event::Queue)s, the queue's
//!   [`on_event`](RedisQueue::on_event) function as [`QueueEvent`](timbr_core::io::QueueEvent)s,
//!   and the program's `tracing` subscriber as events of target `timbr_redis` with the
//!   stream, group, consumer and connection or entry id as fields (the library never prints).
//!
//! The datum type travels as JSON (field `d` of each entry), so it must be
//! `Serialize + DeserializeOwned`; any program can put data on the stream.
//!
//! ```no_run
//! use timbr_core::{Machine, Stage};
//! use timbr_redis::{RedisOptions, RedisQueue, RedisStatus};
//!
//! let queue = RedisQueue::<String>::connect(
//!     RedisOptions::new("redis://127.0.0.1:6379", "texts").consumer("worker-1"),
//! )?;
//! let machine = Machine::<String>::builder()
//!     .queue(queue.clone())
//!     .sink(queue.sink("texts:results"))
//!     .plugin(RedisStatus::new(&queue))
//!     .stage(Stage::new(0, "len", ["input"], |s: &String| s.len())?)
//!     .build()?;
//! machine.start()?;
//! queue.put_all(["some".to_owned(), "text".to_owned()])?; // a producer (any process)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | file | what |
//! |---|---|
//! | `options.rs` | [`RedisOptions`]: every setting, its default and its bound |
//! | `queue/` | [`RedisQueue`]: connecting, putting many (`mod.rs`); the [`Queue`](timbr_core::Queue) implementation (`as_queue.rs`) |
//! | `reader/` | taking: batches of new entries (`mod.rs`); own pending first, claims (`redeliver.rs`); splits and dead letters (`set_aside.rs`); what a live consumer holds kept from claims (`touch.rs`) |
//! | `group.rs` | the group: created (again when lost), looked at (`XINFO GROUPS`), its stream trimmed |
//! | `prefetch.rs` | taking ahead: the next batch is read while this one is processed |
//! | `writer.rs` | putting: `XADD` held to the capacity, and how approximate that is |
//! | `producer.rs` | [`Producer`]: a sequence put from a position kept in Redis, resumed after a crash |
//! | `pack.rs` | many data in one entry: ids, origins, splitting ([`RedisOptions::pack`]) |
//! | `resp.rs` | the outbox's transactions, encoded by hand |
//! | `outbox.rs` | records before acknowledgements, batched, sent by a thread of their own |
//! | `sink.rs` | [`RedisSink`] |
//! | `results.rs` | a results stream read back: records, packed result entries unpacked ([`Fleet::result_records`]) |
//! | `link.rs` | a connection that reconnects with backoff and reports outages |
//! | `backoff.rs` | the waits between reconnections: exponential, with jitter |
//! | `unread.rs` | what a group has not read: Redis's lag where it vouches for it, else counted |
//! | `health/` | the one writer of the counters, the connections' health and the group as last seen; raises the [`QueueEvent`](timbr_core::io::QueueEvent)s |
//! | `report.rs` | [`QueueReport`], [`GroupInfo`]: what a queue reports |
//! | `plugin.rs` | [`RedisStatus`], the status plugin |
//! | `fleet.rs` | [`Fleet`]: balance, results |
//! | `side.rs` | a side stream beside the fleet's (dead letters, failures): read in pages, put back on the fleet's stream, purged — one script a change |
//! | `dead.rs` | dead letters: listed, re-queued, purged (what only they have: a letter that cannot be re-queued) |
//! | `failed.rs` | the failure stream: data whose stage said no for good, written with their acknowledgement |
//! | `failures.rs` | failures: listed, replayed onto the queue, purged |
//! | `failure_store.rs` | [`RedisFailureStore`]: the failure stream as a machine's failure store |
//! | `registry.rs` | [`Announce`]: each machine's summary in Redis, once a second |
//! | `view.rs` | [`FleetView`]: every machine, the totals, the queue (`timbr-watch fleet`) |
//! | `watch.rs` | [`Fleet::watch`]: the view again and again (`timbr-watch fleet`, `timbr-fleet watch`) |
//! | `entry.rs` | the fields of entries, records and dead letters |

mod backoff;
mod dead;
mod entry;
mod error;
mod failed;
mod failure_store;
mod failures;
mod fleet;
mod group;
mod health;
mod link;
mod options;
mod outbox;
mod pack;
mod plugin;
mod prefetch;
mod producer;
mod queue;
mod reader;
mod registry;
mod report;
mod resp;
mod results;
mod side;
mod sink;
mod unread;
mod view;
mod watch;
mod writer;

pub use crate::{
    dead::{DeadLetter, Requeue, RequeueReport},
    entry::{dead_fields, record_fields, DATUM_FIELD},
    error::{redact_url, RedisError},
    failed::failure_fields,
    failure_store::RedisFailureStore,
    failures::{Failure, ReplayReport},
    fleet::{Balance, Fleet, Member, Results},
    options::{
        RedisOptions, DEFAULT_BACKOFF_MAX, DEFAULT_BATCH, DEFAULT_BLOCK, DEFAULT_CAPACITY,
        DEFAULT_CHECK_EVERY, DEFAULT_CLAIM_AFTER, DEFAULT_GROUP, DEFAULT_MAX_DELIVERIES,
        DEFAULT_PACK, MAX_BATCH, MAX_CAPACITY, MAX_CLAIM_AFTER,
    },
    pack::{MAX_PACK, ORIGIN_FIELD, PACK_FIELD},
    plugin::RedisStatus,
    producer::{Producer, POSITION_TTL},
    queue::RedisQueue,
    registry::{
        is_ended, Announce, Announced, Earlier, Summary, FORGET_AFTER, GONE_AFTER, HEARTBEAT,
        KEEP_ENDED,
    },
    report::{GroupInfo, QueueReport},
    results::{Malformed, ResultPage, ResultRecord},
    sink::{RedisSink, FLUSH_TIMEOUT},
    view::{FleetMachine, FleetView, Totals},
    watch::WatchOptions,
    writer::PRODUCER_KEY_TTL,
};

use timbr_core::io::{Delivery, DeliveryId};

/// The `redis` crate this one is built on.
pub use redis;
