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
//!   one entry per datum, each with field `o` = its origin `E#i`, in one transaction with
//!   the packed entry's acknowledgement. A datum that kills its worker is then alone in its
//!   entry, counted and dead-lettered after `max_deliveries` as any other; the rest of its
//!   pack is processed (at most once more each, as data fetched with a poisonous one are).
//! - **Counts**: the fleet's [`Balance`](crate::Balance) counts entries (a split entry is
//!   acknowledged, its pieces are produced); [`acked_data`](crate::Balance::acked_data)
//!   counts data.
//!
//! A delivery's id says which case it is, so that acknowledging it needs no lookup in
//! Redis: `E` (an entry of one datum), `E#i` (datum `i` of packed entry `E`), or `E#i>S`
//! (entry `S`, split out of `E`).

use std::collections::HashMap;

use parking_lot::Mutex;

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

/// What a delivery's id refers to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Handle<'a> {
    /// An entry of one datum: acknowledged or released as it is.
    Entry(&'a str),
    /// A datum of a packed entry: the entry is acknowledged once all its data are.
    Packed {
        /// The packed entry.
        entry: &'a str,
    },
}

impl<'a> Handle<'a> {
    /// Reads a delivery id this queue gave out (see the module's docs).
    pub(crate) fn of(id: &'a str) -> Handle<'a> {
        if let Some((_, split)) = id.split_once('>') {
            return Handle::Entry(split);
        }
        match id.split_once('#') {
            Some((entry, _)) => Handle::Packed { entry },
            None => Handle::Entry(id),
        }
    }

    /// The stream entry to acknowledge or deliver again.
    pub(crate) fn entry(&self) -> &'a str {
        match self {
            Handle::Entry(e) | Handle::Packed { entry: e } => e,
        }
    }
}

/// The origin a record names for the delivery `id`: the entry, or `E#i` for a datum that
/// was packed (split or not).
pub(crate) fn origin(id: &str) -> &str {
    id.split_once('>').map_or(id, |(origin, _)| origin)
}

/// The id of datum `index` of packed entry `entry`.
pub(crate) fn packed_id(entry: &str, index: usize) -> String {
    format!("{entry}#{index}")
}

/// The id of entry `entry`, split out of a packed one, with origin `origin`.
pub(crate) fn split_id(origin: &str, entry: &str) -> String {
    format!("{origin}>{entry}")
}

/// Packed entries fetched by this consumer and not yet acknowledged: how many of each
/// one's data are still out.
#[derive(Default)]
pub(crate) struct Packs {
    /// Each entry's data still out, and its size.
    open: Mutex<HashMap<String, (usize, usize)>>,
}

impl Packs {
    /// Entry `entry`'s `n` data were handed out.
    pub(crate) fn opened(&self, entry: &str, n: usize) {
        self.open.lock().insert(entry.to_owned(), (n, n));
    }

    /// One datum of `entry` is done: `Some(n)` when it was the last of the entry's `n`,
    /// which is then to be acknowledged; `None` while others are out, or if the entry is to
    /// be delivered again ([`forget`](Packs::forget)) or not this consumer's.
    pub(crate) fn done(&self, entry: &str) -> Option<usize> {
        let mut open = self.open.lock();
        let (left, size) = open.get_mut(entry)?;
        *left -= 1;
        if *left > 0 {
            return None;
        }
        let size = *size;
        open.remove(entry);
        Some(size)
    }

    /// A datum of `entry` was released: the entry is delivered again (split), so the
    /// acknowledgements of its other data must not acknowledge it.
    pub(crate) fn forget(&self, entry: &str) {
        self.open.lock().remove(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::{origin, pack, packed_id, split_id, Handle, Packs};

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
    fn a_delivery_id_says_what_to_acknowledge_and_which_origin_to_name() {
        let packed = packed_id("17-3", 5);
        assert_eq!(packed, "17-3#5");
        assert_eq!(Handle::of(&packed), Handle::Packed { entry: "17-3" });
        assert_eq!(origin(&packed), "17-3#5");

        let split = split_id(&packed, "20-0");
        assert_eq!(Handle::of(&split), Handle::Entry("20-0"));
        assert_eq!(Handle::of(&split).entry(), "20-0");
        assert_eq!(
            origin(&split),
            "17-3#5",
            "the same origin however delivered"
        );

        assert_eq!(Handle::of("9-1"), Handle::Entry("9-1"));
        assert_eq!(origin("9-1"), "9-1");
    }

    #[test]
    fn a_pack_is_acknowledged_once_all_its_data_are_and_never_once_released() {
        let packs = Packs::default();
        packs.opened("1-0", 3);
        packs.opened("2-0", 2);
        assert_eq!(packs.done("1-0"), None);
        assert_eq!(packs.done("1-0"), None);
        assert_eq!(
            packs.done("1-0"),
            Some(3),
            "the last one acknowledges, weighing 3"
        );
        assert_eq!(packs.done("1-0"), None, "acknowledged once only");
        packs.forget("2-0");
        assert_eq!(packs.done("2-0"), None, "released: delivered again, split");
        assert_eq!(packs.done("2-0"), None);
        assert_eq!(packs.done("unknown"), None);
    }
}
