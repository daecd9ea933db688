//! A batch's records as `XADD`s: one entry per record, or one per input pack for a packed
//! sink's records (the layout: `results.rs`).

use std::collections::HashMap;

use super::Op;
use crate::entry::record_fields;
use crate::resp::Transaction;
use crate::results;

/// Encodes the `XADD`s of a batch's records into `tx`, in the order of `ops`: one entry per
/// record, or per input pack for the records of packed sinks (at the place of the pack's
/// first record; see `results.rs`). Returns the records encoded.
pub(super) fn encode(tx: &mut Transaction, ops: &[Op]) -> u64 {
    // (stream, pack) → the indices in `ops` of its records, for packed records only.
    let mut packs: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Op::Add {
            record: r,
            packed: true,
        } = op
        {
            if results::packable(&r.origin, &r.record) {
                packs
                    .entry((&*r.stream, results::pack_of(&r.origin)))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut written = 0_u64;
    for op in ops {
        let Op::Add { record: r, packed } = op else {
            continue;
        };
        written += 1;
        if *packed && results::packable(&r.origin, &r.record) {
            // The whole pack goes at its first record; its other records are skipped.
            let Some(members) = packs.remove(&(&*r.stream, results::pack_of(&r.origin))) else {
                continue;
            };
            let field = |k: usize| {
                members.iter().map(move |&i| match &ops[i] {
                    Op::Add { record, .. } => match k {
                        0 => record.oid.as_bytes(),
                        1 => record.origin.as_bytes(),
                        _ => record.record.as_bytes(),
                    },
                    Op::Ack(..) => b"".as_slice(),
                })
            };
            tx.start(11);
            for a in [b"XADD", r.stream.as_bytes(), b"*"] {
                tx.arg(a);
            }
            for (name, k) in [
                (record_fields::OIDS, 0),
                (record_fields::ORIGINS, 1),
                (record_fields::RECORDS, 2),
            ] {
                tx.arg(name.as_bytes());
                tx.joined(field(k), b'\n');
            }
            tx.arg(record_fields::CONSUMER.as_bytes());
            tx.arg(r.consumer.as_bytes());
            continue;
        }
        let args = r.xadd();
        let (failed, attempts) = (&r.failed, &r.attempts);
        if failed.is_empty() && attempts.is_empty() {
            tx.command(&args);
            continue;
        }
        // The rare fields, when they have something to say.
        let rare = [
            (record_fields::FAILED, failed),
            (record_fields::ATTEMPTS, attempts),
        ];
        let said = rare.iter().filter(|(_, v)| !v.is_empty());
        tx.start(args.len() + 2 * said.clone().count());
        for a in args {
            tx.arg(a);
        }
        for (k, v) in said {
            tx.arg(k.as_bytes());
            tx.arg(v.as_bytes());
        }
    }
    written
}
