//! The subscriptions a [`ZmqSink`](crate::ZmqSink) has seen, kept so that a subscriber with
//! a hundred thousand topics costs the machine no more than one with a single topic.
//!
//! A record's topic is its oid (24 hex characters), so a subscription can only match through
//! one of the oid's 25 prefixes (lengths 0 to 24). Topics are kept in a hash map and the
//! lengths in use in a bit mask: whether a record is routed takes at most 25 lookups, and
//! usually one (the empty topic, "everything"). Adding or removing a topic is O(1).
//!
//! Memory is bounded: topics longer than an oid can never match and are only counted, and at
//! most [`MAX_TOPICS`] distinct topics are kept (plus the empty topic, always); past that a
//! subscriber's further topics are counted as [`refused`](Topics::refused). libzmq still delivers them (it routes by its own
//! trie), so the only cost of a refused topic is that [`unrouted`](crate::io::ZmqStats::unrouted)
//! may count a record that did reach that subscriber.

use std::collections::HashMap;

/// The length of a record's topic (an oid's hex).
const OID_LEN: usize = 24;

/// Distinct topics a sink keeps at most.
pub const MAX_TOPICS: usize = 65_536;

/// The topics subscribed to and how many subscriptions each has.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    counts: HashMap<Vec<u8>, u64>,
    /// Bit `n` set: some kept topic is `n` bytes long.
    lengths: u32,
    /// How many kept topics have each length.
    per_length: [usize; OID_LEN + 1],
    /// Subscriptions, kept or not.
    total: u64,
    /// Subscriptions to topics longer than an oid (they match nothing).
    too_long: u64,
    /// Subscriptions refused because [`MAX_TOPICS`] topics were kept already.
    refused: u64,
}

impl Topics {
    /// Applies one XPUB subscription message: `1` + topic subscribes, `0` + topic
    /// unsubscribes (ZeroMQ reports that only when the topic's last subscriber left).
    pub(crate) fn note(&mut self, message: &[u8]) {
        let Some((&kind, topic)) = message.split_first() else {
            return;
        };
        match kind {
            1 if topic.len() > OID_LEN => {
                self.too_long += 1;
                self.total += 1;
            }
            1 => {
                if let Some(n) = self.counts.get_mut(topic) {
                    *n += 1;
                } else if self.counts.len() >= MAX_TOPICS && !topic.is_empty() {
                    // The empty topic (everything) is always kept: a hostile subscriber
                    // filling the map must not make an ordinary reader's records unrouted.
                    self.refused += 1;
                } else {
                    self.counts.insert(topic.to_vec(), 1);
                    self.per_length[topic.len()] += 1;
                    self.lengths |= 1 << topic.len();
                }
                self.total += 1;
            }
            // Not kept, so not known per topic: one subscription fewer.
            0 if topic.len() > OID_LEN => {
                self.too_long = self.too_long.saturating_sub(1);
                self.total = self.total.saturating_sub(1);
            }
            0 => {
                if let Some(n) = self.counts.remove(topic) {
                    self.total = self.total.saturating_sub(n);
                    self.per_length[topic.len()] -= 1;
                    if self.per_length[topic.len()] == 0 {
                        self.lengths &= !(1 << topic.len());
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether some kept topic is a prefix of `key`.
    pub(crate) fn routes(&self, key: &[u8]) -> bool {
        let mut lengths = self.lengths;
        while lengths != 0 {
            let n = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            if key.get(..n).is_some_and(|p| self.counts.contains_key(p)) {
                return true;
            }
        }
        false
    }

    /// Subscriptions seen and not cancelled (one per subscriber and topic).
    pub(crate) fn subscriptions(&self) -> u64 {
        self.total
    }

    /// Distinct topics kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.counts.len()
    }

    /// Subscriptions not kept: past [`MAX_TOPICS`], or longer than an oid.
    pub(crate) fn refused(&self) -> u64 {
        self.refused + self.too_long
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(t: &[u8]) -> Vec<u8> {
        [&[1], t].concat()
    }

    fn unsub(t: &[u8]) -> Vec<u8> {
        [&[0], t].concat()
    }

    #[test]
    fn prefixes_route_and_unsubscribing_forgets() {
        let mut topics = Topics::default();
        let oid = b"65aa00112233445566778899";
        assert!(!topics.routes(oid));
        topics.note(&sub(b"65aa"));
        topics.note(&sub(b"65aa"));
        topics.note(&sub(b"ff"));
        assert!(topics.routes(oid));
        assert!(!topics.routes(b"65ab00112233445566778899"));
        assert_eq!((topics.subscriptions(), topics.len()), (3, 2));
        topics.note(&unsub(b"65aa"));
        assert!(!topics.routes(oid));
        assert_eq!(topics.subscriptions(), 1);
        topics.note(&sub(b""));
        assert!(topics.routes(oid));
    }

    #[test]
    fn a_hostile_subscriber_is_bounded() {
        let mut topics = Topics::default();
        for i in 0..(MAX_TOPICS + 1000) {
            topics.note(&sub(format!("{i:024x}").as_bytes()));
        }
        topics.note(&sub(&[b'a'; 100]));
        assert_eq!(topics.len(), MAX_TOPICS);
        topics.note(&sub(b""));
        assert_eq!(topics.len(), MAX_TOPICS + 1, "everything is always kept");
        assert!(topics.routes(b"ffffffffffffffffffffffff"));
        topics.note(&unsub(b""));
        assert_eq!(topics.refused(), 1001);
        assert_eq!(topics.subscriptions(), MAX_TOPICS as u64 + 1001);
        // All kept topics are 24 bytes long: one lookup per record.
        assert_eq!(topics.lengths.count_ones(), 1);
        assert!(topics.routes(format!("{:024x}", 5).as_bytes()));
        assert!(!topics.routes(b"ffffffffffffffffffffffff"));
    }
}
