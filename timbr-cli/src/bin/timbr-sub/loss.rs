//! What `--status` tells of loss: the sink's `sent` count against what this subscriber
//! received, exact only when it was there from the start.

use timbr_cli::{is_final, state_name};

/// What the status channel said: the sink's `sent` count when first seen (and how many
/// records this subscriber had then) and at the end.
#[derive(Default)]
pub(crate) struct Loss {
    /// `(sent, received)` at the first snapshot.
    base: Option<(u64, u64)>,
    last_sent: Option<u64>,
    /// Whether the machine's last snapshot said it had ended.
    pub(crate) ended: bool,
}

/// What this subscriber can say of its loss.
#[derive(Debug, PartialEq)]
pub(crate) enum Account {
    /// No snapshot yet.
    Unknown,
    /// There from the start: of `expected` records the sink sent, `missed` did not arrive.
    Exact { expected: u64, missed: u64 },
    /// Joined mid-run: the records sent before it subscribed are unknown, so no loss can be
    /// told. What was sent and received since the first snapshot, for people.
    MidRun {
        sent_since: u64,
        received_since: u64,
    },
}

/// A snapshot without the sink's count: loss cannot be told.
#[derive(Debug, thiserror::Error)]
#[error(
    "the status has no `plugins.zmq.sent`: add the sink's stats to the machine \
     (`builder.plugin(sink.stats())`) to count loss"
)]
pub(crate) struct NoSentCount;

impl Loss {
    /// Takes in a status snapshot that arrived when `received` records had.
    pub(crate) fn note(
        &mut self,
        snapshot: &serde_json::Value,
        received: u64,
    ) -> Result<(), NoSentCount> {
        let sent = snapshot
            .pointer("/plugins/zmq/sent")
            .and_then(serde_json::Value::as_u64)
            .ok_or(NoSentCount)?;
        if self.base.is_none() {
            self.base = Some((sent, received));
        }
        self.last_sent = Some(sent);
        self.ended = state_name(snapshot).is_some_and(is_final);
        Ok(())
    }

    /// What can be said of the loss once `received` records arrived.
    ///
    /// The first snapshot tells whether this subscriber was there from the start: nothing
    /// sent yet, or exactly as many as it had received. Then every record sent was one it
    /// should get, and the figure is exact (a snapshot travels apart from the records, so a
    /// record may overtake it: counting from zero, that changes nothing). Otherwise records
    /// went out before it subscribed, how many nobody knows: the numbers since the first
    /// snapshot cannot tell a loss from records already in flight then.
    pub(crate) fn account(&self, received: u64) -> Account {
        let (Some((base_sent, base_received)), Some(last_sent)) = (self.base, self.last_sent)
        else {
            return Account::Unknown;
        };
        if base_sent == 0 || base_sent == base_received {
            Account::Exact {
                expected: last_sent,
                missed: last_sent.saturating_sub(received),
            }
        } else {
            Account::MidRun {
                sent_since: last_sent.saturating_sub(base_sent),
                received_since: received - base_received,
            }
        }
    }

    /// Whether nothing more is to be waited for: the machine ended and every record it sent
    /// arrived.
    pub(crate) fn all_in(&self, received: u64) -> bool {
        self.ended && matches!(self.account(received), Account::Exact { missed: 0, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_exact_from_the_start_and_untold_mid_run() {
        let loss = |base: (u64, u64), last_sent: u64| Loss {
            base: Some(base),
            last_sent: Some(last_sent),
            ended: true,
        };
        assert_eq!(Loss::default().account(5), Account::Unknown);
        // There before the first record, records overtaking the first snapshot included.
        assert_eq!(
            loss((0, 0), 100).account(90),
            Account::Exact {
                expected: 100,
                missed: 10
            }
        );
        assert_eq!(
            loss((0, 7), 100).account(100),
            Account::Exact {
                expected: 100,
                missed: 0
            }
        );
        assert!(loss((0, 7), 100).all_in(100));
        // Had every record sent up to its first snapshot.
        assert_eq!(
            loss((40, 40), 100).account(95),
            Account::Exact {
                expected: 100,
                missed: 5
            }
        );
        // Joined mid-run: 40 were sent, it had 3 (the rest went before it subscribed, or are
        // in flight: nobody can tell), so no loss is claimed either way.
        assert_eq!(
            loss((40, 3), 100).account(63),
            Account::MidRun {
                sent_since: 60,
                received_since: 60
            }
        );
        assert!(!loss((40, 3), 100).all_in(1000));
    }
}
