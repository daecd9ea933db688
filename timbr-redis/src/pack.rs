//! Packing: many data in one stream entry, so that a fleet's Redis spends its commands per
//! entry rather than per datum ([`RedisOptions::pack`](crate::RedisOptions::pack)).
//!
//! With one datum per entry, every datum costs Redis an `XADD`, its share of an
//! `XREADGROUP` (with the `XCLAIM` each read writes to the AOF) and of an `XACK`, besides
//! its record: that, not timbr, is what bounds a fleet on one Redis. A **packed entry**
//! holds up to `pack` data as one JSON array (field `p`) and is read, held pending and
//! acknowledged as one, once the records of all its data are in.
//!
//! What stays per datum:
//! - **Origins**: datum `i` of entry `E` has the origin `E#i`, in its record and wherever
//!   it is delivered again, so duplicates are still recognisable downstream.
//! - **Poison**: an entry that must be delivered again (its consumer died, a record was
//!   refused, a datum could not be decoded) is never delivered packed: it is **split** into
//!   one entry per datum, each with field `o` = its origin `E#i`, in one step with the
//!   packed entry's acknowledgement (a script that does nothing if the entry is no longer
//!   pending, so a pack is split at most once). A datum that kills its worker is then alone
//!   in its entry, counted and dead-lettered after `max_deliveries` as any other; the rest
//!   of its pack is processed, each possibly delivered again as data fetched together with a
//!   poisonous one are (the pieces are read in batches like any entries).
//! - **Dropped records**: a stop that abandons batches it cannot write (Redis gone past
//!   the flush's deadline) leaves every pack then out unacknowledged — pending, so split and
//!   delivered again — since a record of one of its data may be among those dropped.
//! - **Counts**: the fleet's [`Balance`](crate::Balance) counts entries (a split entry is
//!   acknowledged, its pieces are produced); [`acked_data`](crate::Balance::acked_data)
//!   counts data.
//!
//! A delivery's id is its origin (`E`, or `E#i` for a datum that came packed, split or
//! not), so every sink sees the same origin for every delivery of a datum. What to
//! acknowledge for it this consumer keeps in [`Packs`]: the packs it has out, and the
//! entries split out of packs it was given.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::failed::Failed;

/// The field of a packed entry: the JSON array of its data.
pub const PACK_FIELD: &str = "p";
/// The field of an entry split out of a packed one: its origin, `<packed entry id>#<index>`.
pub const ORIGIN_FIELD: &str = "o";

/// The most data one entry may hold (bounds [`RedisOptions::pack`](crate::RedisOptions::pack)).
pub const MAX_PACK: usize = 1000;

/// Packs data, each already encoded as JSON, into one JSON array.
pub(crate) fn pack(data: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.iter().map(|d| d.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, d) in data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(d);
    }
    out.push(b']');
    out
}

/// The id (and origin) of datum `index` of packed entry `entry`.
pub(crate) fn packed_id(entry: &str, index: usize) -> String {
    format!("{entry}#{index}")
}

/// Whether `origin`, read from another entry's [`ORIGIN_FIELD`], is one this queue would
/// have written (`<ms>-<seq>#<index>` for a split's piece; `<ms>-<seq>` or that for a
/// replayed failure, which keeps the origin it failed under).
pub(crate) fn is_origin(origin: &str) -> bool {
    parse_origin(origin).is_some()
}

/// The entry's id (as `(ms, seq)`) and the index of an origin `<ms>-<seq>#<index>`, or of
/// a replayed failure's origin `<ms>-<seq>` (index 0: an entry of one datum).
fn parse_origin(origin: &str) -> Option<((u64, u64), usize)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (id, index) = origin.split_once('#').unwrap_or((origin, "0"));
    let (ms, seq) = id.split_once('-')?;
    if !(digits(ms) && digits(seq) && digits(index)) {
        return None;
    }
    Some(((ms.parse().ok()?, seq.parse().ok()?), index.parse().ok()?))
}

/// Checks the [`ORIGIN_FIELD`] of entry `own_id` (`origin`): one this queue writes when it
/// splits a pack names an *earlier* entry (the pack, split after it was added) and an
/// index below [`MAX_PACK`]; a replayed failure's names the earlier entry it failed under
/// (with its index if it came packed). Anything else was not written by a split — a foreign program's
/// field, or a forged one that would make this queue record a datum under another entry's
/// origin — and the entry is dead-lettered as undecodable with the returned reason.
pub(crate) fn check_origin(origin: &str, own_id: &str) -> Result<(), String> {
    let why = |what: &str| {
        Err(format!(
            "undecodable: field `{ORIGIN_FIELD}` {what} (a split's pieces name their pack \
             `<ms>-<seq>#<index>` and replays `<ms>-<seq>`: an earlier entry, index below \
             {MAX_PACK})"
        ))
    };
    let Some((pack, index)) = parse_origin(origin) else {
        return why("is not an origin");
    };
    if index >= MAX_PACK {
        return why("has an index past the largest pack");
    }
    let own = own_id
        .split_once('-')
        .and_then(|(ms, seq)| Some((ms.parse::<u64>().ok()?, seq.parse::<u64>().ok()?)));
    match own {
        Some(own) if pack < own => Ok(()),
        _ => why("names an entry that is not earlier than this one"),
    }
}

/// A packed entry handed out and not yet acknowledged.
struct Open {
    /// Its data not yet done.
    left: usize,
    /// Its data in all, for the count of data acknowledged.
    size: usize,
    /// The outbox's count of abandoned batches when it was handed out.
    abandoned: u64,
    /// Its data done that failed for good: written with its acknowledgement.
    failed: Vec<Failed>,
}

/// What this consumer must acknowledge for the deliveries it gave out with a `#` in their
/// id: the packs it has out, and the entries split out of packs.
pub(crate) struct Packs {
    open: Mutex<HashMap<String, Open>>,
    /// Origin (`E#i`) → the entry split out of pack `E` for datum `i`; or origin `E` →
    /// the entry a failure of entry `E` was replayed as.
    pieces: Mutex<HashMap<String, String>>,
    /// Pieces whose origin has no `#` (replayed failures): while there are none, a
    /// delivery of one datum is acknowledged without a look at `pieces`.
    plain_pieces: AtomicUsize,
    /// How many times the outbox abandoned batches (records and acknowledgements it could
    /// not write before a deadline).
    abandoned: Arc<AtomicU64>,
}

/// What acknowledging (or releasing) a delivery comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    /// This entry, holding this many data, of which these failed for good (written to the
    /// failure stream with the acknowledgement).
    Entry(String, usize, Vec<Failed>),
    /// Nothing yet (other data of its pack are out), or nothing ever (the pack is to be
    /// delivered again, split).
    Nothing,
}

impl Packs {
    /// Packs whose acknowledgement is withheld once the outbox abandons a batch
    /// (`abandoned` counts those times).
    pub(crate) fn new(abandoned: Arc<AtomicU64>) -> Self {
        Packs {
            open: Mutex::default(),
            pieces: Mutex::default(),
            plain_pieces: AtomicUsize::new(0),
            abandoned,
        }
    }

    /// Entry `entry`'s `n` data were handed out.
    pub(crate) fn opened(&self, entry: &str, n: usize) {
        let abandoned = self.abandoned.load(Ordering::Acquire);
        let open = Open {
            left: n,
            size: n,
            abandoned,
            failed: Vec::new(),
        };
        self.open.lock().insert(entry.to_owned(), open);
    }

    /// Entry `entry`, split out of a pack (or a replayed failure), was handed out as
    /// `origin`.
    pub(crate) fn piece(&self, origin: &str, entry: &str) {
        let old = self
            .pieces
            .lock()
            .insert(origin.to_owned(), entry.to_owned());
        if old.is_none() && !origin.contains('#') {
            self.plain_pieces.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The entry delivery `id` was handed out from, if it was a piece (or replay).
    fn take_piece(&self, id: &str) -> Option<String> {
        let plain = !id.contains('#');
        if plain && self.plain_pieces.load(Ordering::Acquire) == 0 {
            return None;
        }
        let piece = self.pieces.lock().remove(id)?;
        if plain {
            self.plain_pieces.fetch_sub(1, Ordering::AcqRel);
        }
        Some(piece)
    }

    /// What to acknowledge now that delivery `id` is done (its datum `failed` for good, if
    /// so: written with the acknowledgement of its entry).
    ///
    /// A pack is acknowledged with its last datum — unless the outbox abandoned a batch
    /// since it was handed out: the record of one of its data may have been in it, so the
    /// pack stays pending and is delivered again (split), which loses nothing (its
    /// failures are dropped with it, and found again).
    pub(crate) fn done(&self, id: &str, failed: Option<Failed>) -> Settle {
        if let Some(piece) = self.take_piece(id) {
            return Settle::Entry(piece, 1, failed.into_iter().collect());
        }
        let Some((entry, _)) = id.split_once('#') else {
            return Settle::Entry(id.to_owned(), 1, failed.into_iter().collect());
        };
        let mut open = self.open.lock();
        let Some(pack) = open.get_mut(entry) else {
            return Settle::Nothing;
        };
        pack.failed.extend(failed);
        pack.left -= 1;
        if pack.left > 0 {
            return Settle::Nothing;
        }
        let Some(pack) = open.remove(entry) else {
            return Settle::Nothing;
        };
        if self.abandoned.load(Ordering::Acquire) != pack.abandoned {
            return Settle::Nothing;
        }
        Settle::Entry(entry.to_owned(), pack.size, pack.failed)
    }

    /// The entry to deliver again for delivery `id`, whose record was refused. A pack's
    /// other data must then not acknowledge it: it is delivered again whole (split).
    pub(crate) fn release(&self, id: &str) -> String {
        if let Some(piece) = self.take_piece(id) {
            return piece;
        }
        let Some((entry, _)) = id.split_once('#') else {
            return id.to_owned();
        };
        self.open.lock().remove(entry);
        entry.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::{check_origin, is_origin, pack, packed_id, Packs, Settle};

    fn entry(id: &str, n: usize) -> Settle {
        Settle::Entry(id.to_owned(), n, Vec::new())
    }

    #[test]
    fn a_pack_is_a_json_array_of_its_data() {
        let data = [br#"{"n":1}"#.to_vec(), b"2".to_vec(), br#""x""#.to_vec()];
        let packed = pack(&data);
        assert_eq!(packed, br#"[{"n":1},2,"x"]"#);
        let back: Vec<serde_json::Value> = serde_json::from_slice(&packed).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(pack(&[]), b"[]");
    }

    #[test]
    fn only_origins_this_queue_writes_are_taken_from_other_entries() {
        assert_eq!(packed_id("17-3", 5), "17-3#5");
        assert!(is_origin("17-3#5"));
        assert!(is_origin("17-3"), "a replayed failure's origin");
        assert_eq!(check_origin("17-3", "17-4"), Ok(()));
        assert!(check_origin("17-3", "17-3").is_err());
        for bad in [
            "",
            "17-3#",
            "a>b",
            "17#5",
            "17-3#5>9-0",
            "x-3#5",
            "17-3#5#1",
        ] {
            assert!(!is_origin(bad), "{bad}");
            assert!(check_origin(bad, "20-0").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_forged_origin_is_refused_with_the_reason() {
        assert_eq!(check_origin("17-3#5", "17-4"), Ok(()));
        assert_eq!(check_origin("17-3#999", "18-0"), Ok(()));
        for (forged, why) in [
            ("17-3#5", "not earlier"),                     // the piece's own id
            ("17-4#5", "not earlier"),                     // a later entry
            ("99999999999999999999-0#1", "not an origin"), // past u64
            ("17-3#1000", "past the largest pack"),
            ("17-3#99999999999999999999", "not an origin"),
        ] {
            let reason = check_origin(forged, "17-3").unwrap_err();
            assert!(reason.starts_with("undecodable: field `o`"), "{reason}");
            assert!(reason.contains(why), "{forged}: {reason}");
        }
    }

    #[test]
    fn a_pack_is_acknowledged_once_all_its_data_are_and_never_once_released() {
        let packs = Packs::new(Arc::default());
        packs.opened("1-0", 3);
        packs.opened("2-0", 2);
        assert_eq!(packs.done("1-0#0", None), Settle::Nothing);
        assert_eq!(packs.done("1-0#2", None), Settle::Nothing);
        assert_eq!(
            packs.done("1-0#1", None),
            entry("1-0", 3),
            "the last one, weighing 3"
        );
        assert_eq!(
            packs.done("1-0#1", None),
            Settle::Nothing,
            "acknowledged once only"
        );
        assert_eq!(packs.release("2-0#1"), "2-0");
        assert_eq!(
            packs.done("2-0#0", None),
            Settle::Nothing,
            "released: delivered again"
        );
        assert_eq!(packs.done("9-9#0", None), Settle::Nothing);
        assert_eq!(
            packs.done("9-9", None),
            entry("9-9", 1),
            "an entry of one datum"
        );
        assert_eq!(packs.release("9-9"), "9-9");
    }

    #[test]
    fn a_piece_is_acknowledged_as_its_own_entry_under_its_origin() {
        let packs = Packs::new(Arc::default());
        packs.piece("1-0#4", "5-0");
        assert_eq!(packs.release("1-0#4"), "5-0");
        packs.piece("1-0#4", "5-0");
        assert_eq!(packs.done("1-0#4", None), entry("5-0", 1));
        assert_eq!(packs.done("1-0#4", None), Settle::Nothing, "once");
    }

    #[test]
    fn a_pack_out_when_the_outbox_abandoned_a_batch_stays_pending() {
        let abandoned = Arc::new(AtomicU64::new(0));
        let packs = Packs::new(Arc::clone(&abandoned));
        packs.opened("1-0", 2);
        packs.opened("2-0", 1);
        assert_eq!(packs.done("1-0#0", None), Settle::Nothing);
        abandoned.fetch_add(1, Ordering::AcqRel); // 1-0#0's record may be lost
        assert_eq!(
            packs.done("1-0#1", None),
            Settle::Nothing,
            "not acknowledged"
        );
        assert_eq!(
            packs.done("2-0#0", None),
            Settle::Nothing,
            "nor any pack out then"
        );
        packs.opened("3-0", 1);
        assert_eq!(
            packs.done("3-0#0", None),
            entry("3-0", 1),
            "a pack out since is"
        );
    }
}
