//! Keeping what a live consumer holds: every third of
//! [`claim_after`](crate::RedisOptions::claim_after), the entries this consumer has pending
//! and idle for that long get their idle time reset, without their delivery count raised —
//! so a datum waiting for its retry (however long its backoff) or a long pack is never
//! claimed, nor run by two consumers at once, while its worker lives. A killed consumer
//! stops touching, and its entries are claimed as before.
//!
//! The touch runs while the queue lives and once it has fetched: a machine stopped without
//! being dropped keeps what it fetched (it delivers it when started again).

use std::time::Instant;

use serde::de::DeserializeOwned;

use super::Reader;
use crate::group::group_gone;
use crate::options::RedisOptions;

/// Resets the idle time of the entries consumer `ARGV[2]` has pending in group `ARGV[1]`
/// that are idle for `ARGV[3]` ms or more (at most `ARGV[4]` of them), without raising their
/// delivery counts (`JUSTID`). Listed and claimed in one script: an entry another consumer
/// claimed meanwhile is not listed. Returns how many.
const TOUCH_SCRIPT: &str = "\
local mine = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', ARGV[4], ARGV[2]) \
if #mine == 0 then return 0 end \
local ids = {} \
for i, p in ipairs(mine) do ids[i] = p[1] end \
ids[#ids + 1] = 'JUSTID' \
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids)) \
return #mine";

/// The most entries one touch keeps (the rest at the next one).
const TOUCH_MAX: usize = 1000;

impl<T: DeserializeOwned> Reader<T> {
    /// When the next touch is due (`None`: none until the next fetch).
    pub(crate) fn next_touch(&self) -> Option<Instant> {
        self.next_touch
    }

    /// Touches this consumer's idle pending entries if it is time (see the module's docs).
    pub(crate) fn touch_if_due(&mut self, o: &RedisOptions, give_up: &dyn Fn() -> bool) {
        let now = Instant::now();
        let every = o.claim_after / 3;
        match self.next_touch {
            None => self.next_touch = Some(now + every),
            Some(due) if now >= due => {
                self.next_touch = Some(now + every);
                let idle = every.as_millis() as u64;
                let _: Option<u64> = self.link.run(give_up, |con| {
                    redis::cmd("EVAL")
                        .arg(TOUCH_SCRIPT)
                        .arg(1)
                        .arg(&o.stream)
                        .arg(&o.group)
                        .arg(&o.consumer)
                        .arg(idle)
                        .arg(TOUCH_MAX)
                        .query(con)
                        .or_else(|e| if group_gone(&e) { Ok(0) } else { Err(e) })
                });
            }
            Some(_) => {}
        }
    }
}
