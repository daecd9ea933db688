//! The consumer group, administered: created (and created again when Redis lost it), looked
//! at (`XINFO GROUPS`, read through the `redis` crate's typed reply), and its stream trimmed
//! to what some group still needs.
//!
//! Errors are told apart by what they are, never by their words: Redis's `NOGROUP` and
//! `BUSYGROUP` by their error code, a stream that does not exist by its length (see
//! [`look`]).

use redis::streams::{StreamInfoGroup, StreamInfoGroupsReply, StreamPendingReply};
use redis::{Connection, ConnectionLike, FromRedisValue, RedisResult, Value};

use crate::report::GroupInfo;
use crate::unread;
use crate::RedisOptions;

/// One group of `XINFO GROUPS`. Its `lag` is Redis's, to trust only as
/// [`unread`](crate::unread) says — except in what [`group_state`] returns, where it is
/// what the group has not read.
pub(crate) type Group = StreamInfoGroup;

/// Whether Redis answered that the group (or its stream) does not exist: acknowledging or
/// dead-lettering its entries is then moot (a Redis restarted without its data, a user's
/// `DEL`), and retrying would never succeed. (Redis 7, which the scripts' `allow-oom` flag
/// needs anyway, keeps the error's code when a script's command fails.)
pub(crate) fn group_gone(e: &redis::RedisError) -> bool {
    e.code() == Some("NOGROUP")
}

/// When the group (or the whole stream) is gone — a Redis restarted without its data, a
/// user's `DEL` — creates it again, so that the fleet goes on with what is there; any other
/// error is returned.
pub(crate) fn recreate_group(
    con: &mut Connection,
    o: &RedisOptions,
    e: redis::RedisError,
) -> RedisResult<()> {
    if !group_gone(&e) {
        return Err(e);
    }
    create_group(con, o)
}

/// Creates the group, reading the stream from its start, and the stream if need be.
pub(crate) fn create_group(con: &mut Connection, o: &RedisOptions) -> RedisResult<()> {
    let created: RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&o.stream)
        .arg(&o.group)
        .arg("0")
        .arg("MKSTREAM")
        .query(con);
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// The group's state, from `XINFO GROUPS` and `XLEN`.
pub(crate) fn group_info(con: &mut Connection, o: &RedisOptions) -> RedisResult<GroupInfo> {
    group_state(con, o).map(|(info, _)| info)
}

/// The group's state and every group of the stream, in one round trip (more where Redis's
/// lag cannot be trusted: see `unread.rs`); each group's `lag` is then what it has not
/// read.
pub(crate) fn group_state(
    con: &mut Connection,
    o: &RedisOptions,
) -> RedisResult<(GroupInfo, Vec<Group>)> {
    let (length, [dead, failures], mut all) = look(con, o)?;
    let mut info = GroupInfo {
        stream_length: length,
        dead_letters: dead,
        failures,
        lag: Some(length),
        ..GroupInfo::default()
    };
    // Each group's lag as far as Redis vouches for it, counted where it does not.
    for group in &mut all {
        if !unread::lag_is_reliable(group, length) {
            group.lag = Some(unread::unread(con, &o.stream, group, length)? as usize);
        }
    }
    if let Some(group) = all.iter().find(|g| g.name == o.group) {
        info.pending = group.pending as u64;
        info.consumers = group.consumers as u64;
        info.lag = group.lag.map(|lag| lag as u64);
    }
    Ok((info, all))
}

/// The length of the queue's stream, of its dead letters and of its failures, and the
/// stream's groups, in one round trip.
///
/// A stream that does not exist (deleted by someone) has no groups: `XINFO GROUPS` refuses
/// it with an error reply that says so only in words (`ERR no such key`). It is told by its
/// length instead: an error from `XINFO` where `XLEN` answered 0 (rather than `WRONGTYPE`)
/// is a missing key, since an existing stream, even empty, has its groups listed.
fn look(con: &mut Connection, o: &RedisOptions) -> RedisResult<(u64, [u64; 2], Vec<Group>)> {
    let stream = &o.stream;
    let mut pipe = redis::pipe();
    pipe.cmd("XLEN").arg(stream);
    pipe.cmd("XLEN").arg(o.dead_stream());
    pipe.cmd("XLEN").arg(o.failure_stream());
    pipe.cmd("XINFO").arg("GROUPS").arg(stream);
    // Each reply on its own (a pipeline's `query` would fail whole on `XINFO`'s error).
    let replies = con.req_packed_commands(&pipe.get_packed_pipeline(), 0, 4)?;
    let [length, dead, failures, groups]: [Value; 4] = replies.try_into().map_err(|_| {
        redis::RedisError::from((
            redis::ErrorKind::TypeError,
            "XLEN, XLEN, XLEN, XINFO GROUPS: not four replies",
        ))
    })?;
    let length = u64::from_owned_redis_value(length.extract_error()?)?;
    let dead = u64::from_owned_redis_value(dead.extract_error()?)?;
    let failures = u64::from_owned_redis_value(failures.extract_error()?)?;
    let groups = match groups.extract_error() {
        Ok(reply) => StreamInfoGroupsReply::from_owned_redis_value(reply)?.groups,
        Err(_) if length == 0 => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok((length, [dead, failures], groups))
}

/// Trims the stream up to the first entry some group still needs: its oldest pending
/// entry, or the first it has not read.
pub(crate) fn trim(con: &mut Connection, o: &RedisOptions) -> RedisResult<()> {
    let mut keep: Option<(u64, u64)> = None;
    let (_, _, groups) = look(con, o)?;
    for group in groups {
        let summary: StreamPendingReply = redis::cmd("XPENDING")
            .arg(&o.stream)
            .arg(&group.name)
            .query(con)?;
        let needed = match summary {
            StreamPendingReply::Data(pending) => pending.start_id,
            StreamPendingReply::Empty => group.last_delivered_id,
        };
        let Some(id) = parse_id(&needed) else {
            return Ok(());
        };
        keep = Some(keep.map_or(id, |k| k.min(id)));
    }
    if let Some((ms, seq)) = keep {
        redis::cmd("XTRIM")
            .arg(&o.stream)
            .arg("MINID")
            .arg(format!("{ms}-{seq}"))
            .query::<()>(con)?;
    }
    Ok(())
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
