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
            stream,
            values: [_, origin, record, ..],
            packed: true,
        } = op
        {
            if results::packable(origin, record) {
                packs
                    .entry((&**stream, results::pack_of(origin)))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut written = 0_u64;
    for op in ops {
        let Op::Add {
            stream,
            values,
            packed,
        } = op
        else {
            continue;
        };
        let [oid, origin, record, consumer, failed] = values;
        written += 1;
        if *packed && results::packable(origin, record) {
            // The whole pack goes at its first record; its other records are skipped.
            let Some(members) = packs.remove(&(&**stream, results::pack_of(origin))) else {
                continue;
            };
            let field = |k: usize| {
                members.iter().map(move |&i| match &ops[i] {
                    Op::Add { values, .. } => values[k].as_bytes(),
                    Op::Ack(..) => b"".as_slice(),
                })
            };
            tx.start(11);
            for a in [b"XADD", stream.as_bytes(), b"*"] {
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
            tx.arg(consumer.as_bytes());
            continue;
        }
        let args: [&[u8]; 11] = [
            b"XADD",
            stream.as_bytes(),
            b"*",
            record_fields::OID.as_bytes(),
            oid.as_bytes(),
            record_fields::ORIGIN.as_bytes(),
            origin.as_bytes(),
            record_fields::RECORD.as_bytes(),
            record.as_bytes(),
            record_fields::CONSUMER.as_bytes(),
            consumer.as_bytes(),
        ];
        if failed.is_empty() {
            tx.command(&args);
        } else {
            tx.start(args.len() + 2);
            for a in args
                .into_iter()
                .chain([record_fields::FAILED.as_bytes(), failed.as_bytes()])
            {
                tx.arg(a);
            }
        }
    }
    written
}
