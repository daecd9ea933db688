//! What arrived: every message checked, counted and (unless `--summary`) printed as a JSON
//! line; and the account of a run, on stderr and as the `--summary` JSON.

use std::collections::HashSet;
use std::io::{self, Write};

use crate::loss::{Account, Loss};

/// How many malformed messages the summary quotes.
const KEPT_PROBLEMS: usize = 10;

/// What one message should be: `[oid hex, JSON array]`; the oid, or why not.
pub(crate) fn check(frames: &[Vec<u8>]) -> Result<&str, String> {
    let [oid, record] = frames else {
        return Err(format!("{} frames instead of 2", frames.len()));
    };
    let oid = std::str::from_utf8(oid)
        .ok()
        .filter(|o| o.len() == 24 && o.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("frame 1 is not 24 hex characters: {oid:?}"))?;
    match serde_json::from_slice::<serde_json::Value>(record) {
        Ok(serde_json::Value::Array(_)) => Ok(oid),
        Ok(other) => Err(format!("frame 2 is JSON but not an array: {other}")),
        Err(e) => Err(format!("frame 2 is not JSON: {e}")),
    }
}

/// The messages received so far.
#[derive(Default)]
pub(crate) struct Tally {
    /// Messages received, well formed or not.
    pub(crate) received: u64,
    well_formed: u64,
    oids: HashSet<String>,
    first_oid: Option<String>,
    last_oid: Option<String>,
    /// The first [`KEPT_PROBLEMS`] malformed messages, described.
    problems: Vec<String>,
}

/// How a run ended, besides what arrived: what the report needs to know.
pub(crate) struct Ending<'a> {
    /// The records endpoint.
    pub(crate) endpoint: &'a str,
    /// `--count`, if given.
    pub(crate) count: Option<u64>,
    /// With `--status`: what it told of loss, and whether the endpoint went away.
    pub(crate) status: Option<(&'a Loss, bool)>,
    /// The signal that ended the run, or 0.
    pub(crate) interrupted: usize,
}

impl Tally {
    /// Counts one message; a well-formed one is written to `out` as
    /// `{"oid":"…","record":[…]}` (when given), a malformed one described on stderr.
    ///
    /// # Errors
    ///
    /// Writing to `out` failed.
    pub(crate) fn take(
        &mut self,
        frames: &[Vec<u8>],
        out: Option<&mut impl Write>,
    ) -> io::Result<()> {
        self.received += 1;
        match check(frames) {
            Ok(oid) => {
                self.well_formed += 1;
                if self.first_oid.is_none() {
                    self.first_oid = Some(oid.to_owned());
                }
                self.last_oid = Some(oid.to_owned());
                self.oids.insert(oid.to_owned());
                if let Some(out) = out {
                    out.write_all(b"{\"oid\":\"")?;
                    out.write_all(oid.as_bytes())?;
                    out.write_all(b"\",\"record\":")?;
                    out.write_all(&frames[1])?;
                    out.write_all(b"}\n")?;
                }
            }
            Err(problem) => {
                let problem = format!("message {}: {problem}", self.received);
                eprintln!("timbr-sub: {problem}");
                if self.problems.len() < KEPT_PROBLEMS {
                    self.problems.push(problem);
                }
            }
        }
        Ok(())
    }

    /// Says on stderr what went wrong or cannot be known, and returns the `--summary` JSON
    /// and whether every check passed: something arrived, all of it well formed, `--count`
    /// reached, nothing missed.
    pub(crate) fn report(&self, ending: &Ending<'_>) -> (serde_json::Value, bool) {
        let received = self.received;
        let complete = ending.count.is_none_or(|n| received == n);
        let account = ending
            .status
            .map_or(Account::Unknown, |(loss, _)| loss.account(received));
        let (expected, missed) = match account {
            Account::Exact { expected, missed } => (Some(expected), Some(missed)),
            _ => (None, None),
        };
        if ending.interrupted != 0 {
            eprintln!(
                "timbr-sub: signal {}: stopped with what arrived",
                ending.interrupted
            );
        }
        if let Some((_, went_away)) = ending.status.filter(|(loss, _)| !loss.ended) {
            eprintln!(
                "timbr-sub: the machine had not ended{}; `expected` counts to the last snapshot",
                if went_away {
                    " when its status endpoint went away"
                } else {
                    ""
                }
            );
        }
        if received == 0 {
            eprintln!("timbr-sub: received nothing from {}", ending.endpoint);
        }
        if let Some(m) = missed.filter(|&m| m > 0) {
            eprintln!(
                "timbr-sub: missed {m} of {} records the sink sent (dropped at this \
                 subscriber's high-water mark)",
                expected.unwrap_or(0)
            );
        }
        let mid_run = match account {
            Account::MidRun {
                sent_since,
                received_since,
            } => {
                eprintln!(
                    "timbr-sub: joined mid-run: cannot know how many records were published \
                     before it subscribed, so no loss is counted ({sent_since} sent and \
                     {received_since} received since its first status snapshot)"
                );
                Some((sent_since, received_since))
            }
            _ => None,
        };
        let lost = missed.is_some_and(|m| m > 0);
        let ok = received > 0 && complete && self.well_formed == received && !lost;
        let summary = serde_json::json!({
            "endpoint": ending.endpoint,
            "received": received,
            "well_formed": self.well_formed,
            "distinct_oids": self.oids.len(),
            "first_oid": self.first_oid,
            "last_oid": self.last_oid,
            "problems": self.problems,
            "complete": complete,
            "expected": expected,
            "missed": missed,
            "missed_exact": missed.map(|_| true),
            "joined_mid_run": mid_run.is_some(),
            "sent_since_first_status": mid_run.map(|(sent, _)| sent),
            "received_since_first_status": mid_run.map(|(_, received)| received),
            "interrupted": (ending.interrupted != 0).then_some(ending.interrupted),
        });
        (summary, ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_checked() {
        let oid = b"0123456789abcdef01234567".to_vec();
        assert!(check(&[oid.clone(), b"[1,2]".to_vec()]).is_ok());
        assert!(check(std::slice::from_ref(&oid)).is_err());
        assert!(check(&[oid.clone(), b"{}".to_vec()]).is_err());
        assert!(check(&[oid.clone(), b"[1,".to_vec()]).is_err());
        assert!(check(&[b"xyz".to_vec(), b"[]".to_vec()]).is_err());
        assert!(check(&[oid.clone(), b"[]".to_vec(), b"[]".to_vec()]).is_err());
    }

    #[test]
    fn a_run_is_ok_only_when_everything_arrived_well_formed() {
        let oid = b"0123456789abcdef01234567".to_vec();
        let mut tally = Tally::default();
        let ending = Ending {
            endpoint: "ipc:///x",
            count: Some(2),
            status: None,
            interrupted: 0,
        };
        assert!(!tally.report(&ending).1, "nothing arrived");
        tally
            .take(&[oid.clone(), b"[1]".to_vec()], None::<&mut Vec<u8>>)
            .unwrap();
        assert!(!tally.report(&ending).1, "one of two");
        tally
            .take(std::slice::from_ref(&oid), None::<&mut Vec<u8>>)
            .unwrap();
        let (summary, ok) = tally.report(&ending);
        assert!(!ok, "one malformed: {summary}");
        assert_eq!(summary["problems"][0], "message 2: 1 frames instead of 2");
        let mut out = Vec::new();
        let mut fine = Tally::default();
        fine.take(&[oid.clone(), b"[1]".to_vec()], Some(&mut out))
            .unwrap();
        fine.take(&[oid, b"[2]".to_vec()], Some(&mut out)).unwrap();
        assert!(fine.report(&ending).1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"oid\":\"0123456789abcdef01234567\",\"record\":[1]}\n\
             {\"oid\":\"0123456789abcdef01234567\",\"record\":[2]}\n"
        );
    }
}
