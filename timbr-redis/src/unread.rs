//! How many entries a group has not read yet — what the fleet's balance, the capacity and
//! `--until-done` take as "unread".
//!
//! Redis answers that in `XINFO GROUPS` as the group's `lag`, computed from the stream's
//! count of entries ever added and the group's count of entries read. That count does not
//! survive every restart: after `kill -9` and a restart from the AOF, Redis reports the
//! group's `entries-read` as nil, and its `lag` is then nil or an *estimate* — one that
//! was seen to stay thousands of entries above the truth after every entry had been read,
//! so that the balance never added up again and a fleet waiting for "nothing unread"
//! waited for ever. So `lag` is taken only where Redis vouches for it (`entries-read` and
//! `lag` both given) and where it is possible (not above the stream's length); elsewhere the entries after the group's `last-delivered-id` are
//! counted (`XRANGE`), up to [`MAX_COUNTED`] — past that, Redis's estimate (or the
//! stream's length) stands, as the best there is, until the group's own count is back
//! (Redis recomputes it as the group reads on).

use redis::{Connection, RedisResult, Value};

use crate::group::Group;

/// The most entries counted one by one when Redis's lag cannot be trusted.
pub(crate) const MAX_COUNTED: u64 = 10_000;
/// Entries per `XRANGE` while counting.
const PAGE: u64 = 1_000;
/// The last delivered id of a group that has delivered nothing (no entry has this id).
const NOTHING_DELIVERED: &str = "0-0";

/// Whether `group`'s lag can be taken as it is: Redis vouches for it (`entries-read` and
/// `lag` both given) and it is possible (no more than the `length` entries the stream
/// holds — a phantom lag after every entry was read and trimmed is not).
pub(crate) fn lag_is_reliable(group: &Group, length: u64) -> bool {
    group.entries_read.is_some() && group.lag.is_some_and(|lag| lag as u64 <= length)
}

/// The entries of `stream` that `group` has not read: its lag if Redis vouches for it,
/// else counted after its last delivered id (see the module's docs). `length` is the
/// stream's length, the bound when nothing better is known.
pub(crate) fn unread(
    con: &mut Connection,
    stream: &str,
    group: &Group,
    length: u64,
) -> RedisResult<u64> {
    if let (true, Some(lag)) = (lag_is_reliable(group, length), group.lag) {
        return Ok(lag as u64);
    }
    // A group that has delivered nothing has every entry the stream holds still to read:
    // exact, and no scan. It is the common case where Redis does not vouch for the lag (a
    // group made at `0` has no `entries-read` until its first read), and counting there
    // made every producer's room check read up to `MAX_COUNTED` entries back.
    if group.last_delivered_id == NOTHING_DELIVERED {
        return Ok(length);
    }
    let mut from = format!("({}", group.last_delivered_id);
    let mut counted = 0;
    while counted < MAX_COUNTED {
        let page: Value = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query(con)?;
        let ids = last_id_and_count(&page);
        let Some((last, n)) = ids else {
            return Ok(counted);
        };
        counted += n;
        if n < PAGE {
            return Ok(counted);
        }
        from = format!("({last}");
    }
    // Past what is worth counting: the estimate, never below what was counted.
    Ok(group
        .lag
        .map_or(length, |lag| lag as u64)
        .clamp(counted, length.max(counted)))
}

/// The id of the last entry of an `XRANGE` reply and how many it has (`None` if none).
fn last_id_and_count(page: &Value) -> Option<(String, u64)> {
    let Value::Array(entries) = page else {
        return None;
    };
    let last = match entries.last()? {
        Value::Array(pair) => crate::entry::text(pair.first()?),
        _ => return None,
    };
    Some((last, entries.len() as u64))
}
