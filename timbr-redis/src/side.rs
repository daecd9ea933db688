//! A side stream beside the fleet's stream: the dead letters (`dead.rs`) and the failures
//! (`failures.rs`) are both one, handled alike by an operator — read in pages, walked as
//! they are when asked, put back on the fleet's stream, or purged after inspection. What
//! differs (an entry's fields, whether it can be put back, what each step reports) stays in
//! their files.
//!
//! Each change is one script, so that it is applied whole and counted with what it moves:
//! a put-back adds the datum back to the fleet's stream (with its origin, so its record
//! has the origin the entry had), counts it (`<stream>:requeued`, `<stream>:replayed`) and
//! deletes the entry; a purge deletes entries and counts them in `<stream>:purged`. The
//! fleet's [`Balance`](crate::Balance) reads the counters and still adds up. Two operators
//! putting back the same entry at once put it back once: the script finds it gone the
//! second time.

use redis::streams::{StreamId, StreamRangeReply};

use crate::entry::DATUM_FIELD;
use crate::fleet::SCAN;
use crate::pack::ORIGIN_FIELD;
use crate::{Fleet, RedisError, RedisOptions};

/// Puts entry ARGV[1] of stream KEYS[1] back on stream KEYS[2] (its datum field ARGV[2],
/// with its origin field ARGV[3] if it has one), counts it in KEYS[3] and deletes it.
/// Returns the new entry's id, or false if the entry (or its datum) is gone.
const PUT_BACK_SCRIPT: &str = "\
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) \
if #found == 0 then return false end \
local fields, datum, origin = found[1][2], nil, nil \
for i = 1, #fields, 2 do \
  if fields[i] == ARGV[2] then datum = fields[i + 1] end \
  if fields[i] == ARGV[3] then origin = fields[i + 1] end \
end \
if not datum then return false end \
local id \
if origin then id = redis.call('XADD', KEYS[2], '*', ARGV[2], datum, ARGV[3], origin) \
else id = redis.call('XADD', KEYS[2], '*', ARGV[2], datum) end \
redis.call('INCR', KEYS[3]) \
redis.call('XDEL', KEYS[1], ARGV[1]) \
return id";

/// Deletes entries ARGV[..] of stream KEYS[1] and counts those that were there in KEYS[2].
/// Returns how many.
const PURGE_SCRIPT: &str = "\
local n = redis.call('XDEL', KEYS[1], unpack(ARGV)) \
redis.call('INCRBY', KEYS[2], n) \
return n";

/// An entry of a side stream, and which stream that is. Its datum and origin are in the
/// queue's own fields ([`DATUM_FIELD`], [`ORIGIN_FIELD`]), which a put-back copies.
pub(crate) trait SideEntry: Sized {
    /// The side stream's key.
    fn stream(o: &RedisOptions) -> String;
    /// The key counting the entries put back on the fleet's stream.
    fn put_back_key(o: &RedisOptions) -> String;
    /// The entry, from the stream's reply.
    fn from_entry(e: StreamId) -> Self;
    /// Its id in the side stream: what a put-back and a purge take.
    fn side_id(&self) -> &str;
}

impl Fleet {
    /// Up to `count` entries of side stream `S` from id `from` to `to` (inclusive, or
    /// exclusive with a leading `(`), oldest first.
    pub(crate) fn side_range<S: SideEntry>(
        &mut self,
        from: &str,
        to: &str,
        count: usize,
    ) -> Result<Vec<S>, RedisError> {
        self.query("XRANGE", |con, o| {
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(S::stream(o))
                .arg(from)
                .arg(to)
                .arg("COUNT")
                .arg(count)
                .query(con)?;
            Ok(reply.ids.into_iter().map(S::from_entry).collect())
        })
    }

    /// Up to `count` entries of side stream `S` (at least one), newest first.
    pub(crate) fn side_newest<S: SideEntry>(&mut self, count: usize) -> Result<Vec<S>, RedisError> {
        self.query("XREVRANGE", |con, o| {
            let reply: StreamRangeReply = redis::cmd("XREVRANGE")
                .arg(S::stream(o))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(count.max(1))
                .query(con)?;
            Ok(reply.ids.into_iter().map(S::from_entry).collect())
        })
    }

    /// How many entries side stream `S` holds.
    pub(crate) fn side_len<S: SideEntry>(&mut self) -> Result<u64, RedisError> {
        self.query("XLEN", |con, o| {
            redis::cmd("XLEN").arg(S::stream(o)).query(con)
        })
    }

    /// Calls `f` with every entry of side stream `S` there is now, a page at a time, oldest
    /// first: not those written meanwhile (an entry put back that comes back while this
    /// runs, with a worker running, is left for the next call, so that this ends however
    /// fast they come back). `f` may put back or purge the page's entries.
    pub(crate) fn side_pages<S: SideEntry>(
        &mut self,
        mut f: impl FnMut(&mut Fleet, Vec<S>) -> Result<(), RedisError>,
    ) -> Result<(), RedisError> {
        let Some(newest) = self.side_newest::<S>(1)?.pop() else {
            return Ok(());
        };
        let last = newest.side_id().to_owned();
        let mut from = "-".to_owned();
        loop {
            let page = self.side_range::<S>(&from, &last, SCAN)?;
            let Some(newest) = page.last() else {
                return Ok(());
            };
            // Exclusive: the next page starts after this one, whatever `f` leaves.
            from = format!("({}", newest.side_id());
            f(self, page)?;
        }
    }

    /// Puts entry `side_id` of side stream `S` back on the fleet's stream (a new entry,
    /// with its origin if it has one) and deletes it, in one step. Returns the new entry's
    /// id, or `None` if there is no such entry or it has no datum.
    pub(crate) fn side_put_back<S: SideEntry>(
        &mut self,
        side_id: &str,
    ) -> Result<Option<String>, RedisError> {
        self.query("EVAL", |con, o| {
            redis::cmd("EVAL")
                .arg(PUT_BACK_SCRIPT)
                .arg(3)
                .arg(S::stream(o))
                .arg(&o.stream)
                .arg(S::put_back_key(o))
                .arg(side_id)
                .arg(DATUM_FIELD)
                .arg(ORIGIN_FIELD)
                .query(con)
        })
    }

    /// Deletes entries `side_ids` of side stream `S` for good, counting them in the fleet's
    /// [`Balance::purged`](crate::Balance::purged). Returns how many there were.
    pub(crate) fn side_purge<S: SideEntry>(
        &mut self,
        side_ids: &[&str],
    ) -> Result<u64, RedisError> {
        let mut purged = 0;
        for ids in side_ids.chunks(SCAN) {
            purged += self.query("EVAL", |con, o| {
                redis::cmd("EVAL")
                    .arg(PURGE_SCRIPT)
                    .arg(2)
                    .arg(S::stream(o))
                    .arg(o.purged_key())
                    .arg(ids)
                    .query::<u64>(con)
            })?;
        }
        Ok(purged)
    }

    /// Purges every entry of side stream `S` there is now that `pick` accepts, a page at a
    /// time ([`side_pages`](Fleet::side_pages)). Returns how many.
    pub(crate) fn side_purge_picked<S: SideEntry>(
        &mut self,
        mut pick: impl FnMut(&S) -> bool,
    ) -> Result<u64, RedisError> {
        let mut purged = 0;
        self.side_pages(|fleet, page: Vec<S>| {
            let ids: Vec<&str> = page.iter().filter(|e| pick(e)).map(S::side_id).collect();
            purged += fleet.side_purge::<S>(&ids)?;
            Ok(())
        })?;
        Ok(purged)
    }
}
