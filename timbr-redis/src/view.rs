//! The whole fleet at a glance: every machine as it announced itself (see `registry.rs`),
//! the fleet's totals, and the shared queue as Redis sees it — what `timbr-watch fleet`
//! shows.

use std::fmt;

use serde::{Deserialize, Serialize};
use timbr_core::observe::human_count;

use crate::reader::group_info;
use crate::registry::{
    earlier_key, is_ended, machines_key, seen_key, Announced, Earlier, GONE_AFTER,
};
use crate::{Balance, Fleet, GroupInfo, RedisError};

/// One machine of a fleet view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetMachine {
    /// What it said of itself at its last beat.
    #[serde(flatten)]
    pub machine: Announced,
    /// How long ago that was, in ms (by Redis's clock).
    pub seen_ms_ago: u64,
    /// Whether it has not been heard from for [`GONE_AFTER`] and its last word was not that
    /// it ended: killed, hung or cut off.
    pub gone: bool,
    /// The counts of its earlier lives under this name (it was started again).
    #[serde(default)]
    pub earlier: Earlier,
}

impl FleetMachine {
    /// Whether it is heard from and has not ended (stopped, completed or failed).
    pub fn is_live(&self) -> bool {
        !self.gone && !self.has_ended()
    }

    /// Whether its last word was that it ended: `stopped`, `completed` or `failed`.
    pub fn has_ended(&self) -> bool {
        is_ended(&self.machine.state)
    }

    /// What the view shows as its state: its own word, or `GONE`.
    pub fn state(&self) -> &str {
        if self.gone {
            "GONE"
        } else {
            &self.machine.state
        }
    }

    /// Data processed, over all its lives.
    pub fn processed(&self) -> u64 {
        self.earlier.processed + self.machine.processed
    }

    /// Data failed, over all its lives.
    pub fn failed(&self) -> u64 {
        self.earlier.failed + self.machine.failed
    }

    /// Errors, over all its lives.
    pub fn errors(&self) -> u64 {
        self.earlier.errors + self.machine.errors
    }

    /// Data put, over all its lives.
    pub fn put(&self) -> u64 {
        self.earlier.put + self.machine.put
    }
}

/// The sums over a fleet's machines.
///
/// Counts add up every machine listed, over all its lives (a machine started again under
/// its name adds to what its earlier lives did), ended and gone ones included (their work
/// was done); the rate adds up the live ones. The fleet's [`Balance`] is what says where
/// every datum is: processed data exceed acknowledged ones by what killed machines
/// processed and did not acknowledge (processed again by others).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Machines listed.
    pub machines: usize,
    /// Of which live.
    pub live: usize,
    /// Data processed.
    pub processed: u64,
    /// Data failed.
    pub failed: u64,
    /// Errors of every kind.
    pub errors: u64,
    /// Data put on the stream.
    pub put: u64,
    /// Data finished per second, over the live machines.
    pub rate: f64,
    /// Data put per second, over the live machines.
    #[serde(default)]
    pub put_rate: f64,
}

/// A whole fleet: its machines, their totals, the queue as Redis sees it, and the balance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetView {
    /// The stream.
    pub stream: String,
    /// The group.
    pub group: String,
    /// Every machine that announced itself (and was not yet forgotten), by name.
    pub machines: Vec<FleetMachine>,
    /// Their sums.
    pub totals: Totals,
    /// The stream and the group as Redis shows them: length, lag, pending, consumers, dead.
    pub queue: GroupInfo,
    /// Where every datum ever put is.
    pub balance: Balance,
}

/// Machines' names with the time of their last beat, in ms.
type Seen = Vec<(String, u64)>;
/// Names with a JSON value each, as `HGETALL` answers.
type JsonByName = Vec<(String, String)>;

impl Fleet {
    /// Every machine that announced itself on this fleet's stream (see
    /// [`Announce`](crate::Announce)), by name.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn machines(&mut self) -> Result<Vec<FleetMachine>, RedisError> {
        let stream = self.options().stream().to_owned();
        let (now, all, seen, earlier): (Vec<u64>, JsonByName, Seen, JsonByName) =
            self.query("HGETALL", |con, _| {
                redis::pipe()
                    .atomic()
                    .cmd("TIME")
                    .cmd("HGETALL")
                    .arg(machines_key(&stream))
                    .cmd("ZRANGE")
                    .arg(seen_key(&stream))
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .cmd("HGETALL")
                    .arg(earlier_key(&stream))
                    .query(con)
            })?;
        let now_ms = match now[..] {
            [secs, micros] => secs * 1000 + micros / 1000,
            _ => 0,
        };
        let mut machines: Vec<FleetMachine> = all
            .into_iter()
            // An entry that does not parse was not written by timbr: not a machine.
            .filter_map(|(name, json)| {
                let machine: Announced = serde_json::from_str(&json).ok()?;
                let at = seen.iter().find(|(n, _)| *n == name).map_or(0, |(_, t)| *t);
                let seen_ms_ago = now_ms.saturating_sub(at);
                let earlier = earlier
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, json)| serde_json::from_str(json).ok())
                    .unwrap_or_default();
                Some(FleetMachine {
                    gone: seen_ms_ago > GONE_AFTER.as_millis() as u64 && !is_ended(&machine.state),
                    machine,
                    seen_ms_ago,
                    earlier,
                })
            })
            .collect();
        machines.sort_by(|a, b| a.machine.name.cmp(&b.machine.name));
        Ok(machines)
    }

    /// The whole fleet now: its machines, their totals, the queue and the balance.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused a read.
    pub fn view(&mut self) -> Result<FleetView, RedisError> {
        let machines = self.machines()?;
        let queue = self.query("XINFO GROUPS", group_info)?;
        let balance = self.balance()?;
        let mut totals = Totals {
            machines: machines.len(),
            ..Totals::default()
        };
        for m in &machines {
            let a = &m.machine;
            totals.processed += m.processed();
            totals.failed += m.failed();
            totals.errors += m.errors();
            totals.put += m.put();
            if m.is_live() {
                totals.live += 1;
                totals.rate += a.rate;
                totals.put_rate += a.put_rate;
            }
        }
        Ok(FleetView {
            stream: self.options().stream().to_owned(),
            group: self.options().group_name().to_owned(),
            machines,
            totals,
            queue,
            balance,
        })
    }
}

impl fmt::Display for FleetView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        writeln!(
            f,
            "fleet `{}` (group `{}`): {} machines, {} live",
            self.stream, self.group, t.machines, t.live
        )?;
        writeln!(
            f,
            "{:<16} {:<8} {:<10} {:>11} {:>8} {:>8} {:>11} {:>8} {:>8} {:>8}",
            "machine",
            "role",
            "state",
            "processed",
            "failed",
            "errors",
            "put",
            "done/s",
            "put/s",
            "seen"
        )?;
        for m in &self.machines {
            let a = &m.machine;
            let state = m.state();
            let link = if a.connected || !m.is_live() {
                ""
            } else {
                " (redis down)"
            };
            let lives = match m.earlier.lives {
                0 => String::new(),
                n => format!(" ({} lives)", n + 1),
            };
            writeln!(
                f,
                "{:<16} {:<8} {:<10} {:>11} {:>8} {:>8} {:>11} {:>8} {:>8} {:>7.1}s{link}{lives}",
                clip(&a.name, 16),
                clip(&a.role, 8),
                clip(state, 10),
                human_count(m.processed()),
                human_count(m.failed()),
                human_count(m.errors()),
                human_count(m.put()),
                // An ended or gone machine's last rate is history, not what it does now.
                human_count(if m.is_live() {
                    a.rate.round() as u64
                } else {
                    0
                }),
                human_count(if m.is_live() {
                    a.put_rate.round() as u64
                } else {
                    0
                }),
                m.seen_ms_ago as f64 / 1000.0,
            )?;
        }
        writeln!(
            f,
            "{:<16} {:<8} {:<10} {:>11} {:>8} {:>8} {:>11} {:>8} {:>8}",
            "total",
            "",
            format!("{} live", t.live),
            human_count(t.processed),
            human_count(t.failed),
            human_count(t.errors),
            human_count(t.put),
            human_count(t.rate.round() as u64),
            human_count(t.put_rate.round() as u64),
        )?;
        let q = &self.queue;
        let lag = q.lag.map_or_else(|| "?".to_owned(), human_count);
        writeln!(
            f,
            "redis: stream {} | lag {lag} | pending {} | consumers {} | dead {}{}",
            human_count(q.stream_length),
            human_count(q.pending),
            q.consumers,
            human_count(q.dead_letters),
            if q.failures > 0 {
                format!(" | failures {}", human_count(q.failures))
            } else {
                String::new()
            }
        )?;
        write!(f, "{}", self.balance)
    }
}

/// `s`, cut to `width` characters (with `…`) so that the columns stay aligned.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(width - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(name: &str, state: &str, processed: u64, gone: bool) -> FleetMachine {
        FleetMachine {
            machine: Announced {
                name: name.to_owned(),
                role: "worker".to_owned(),
                state: state.to_owned(),
                processed,
                rate: 100.0,
                connected: true,
                ..Announced::default()
            },
            seen_ms_ago: if gone { 9_000 } else { 300 },
            gone,
            earlier: Earlier::default(),
        }
    }

    #[test]
    fn the_table_shows_each_machine_the_totals_and_redis() {
        let view = FleetView {
            stream: "tweets".into(),
            group: "timbr".into(),
            machines: vec![
                machine("w1", "running", 12_345, false),
                machine("a-very-long-worker-name-indeed", "running", 1, false),
                machine("w3", "running", 7, true),
            ],
            totals: Totals {
                machines: 3,
                live: 2,
                processed: 12_353,
                rate: 200.0,
                ..Totals::default()
            },
            queue: GroupInfo {
                stream_length: 1500,
                lag: Some(1000),
                pending: 500,
                consumers: 3,
                dead_letters: 2,
                failures: 7,
            },
            balance: Balance {
                produced: 13_007,
                acked: 11_498,
                pending: 500,
                unread: 1000,
                dead: 2,
                failed: 7,
                purged: 0,
                acked_data: 11_498,
            },
        };
        let text = view.to_string();
        assert!(text.starts_with("fleet `tweets` (group `timbr`): 3 machines, 2 live\n"));
        assert!(text.contains("w1 "), "{text}");
        assert!(text.contains("12,345"), "{text}");
        assert!(text.contains("a-very-long-wor… "), "{text}");
        let w3 = text.lines().find(|l| l.starts_with("w3 ")).unwrap();
        assert!(w3.contains("GONE") && w3.contains("9.0s"), "{w3}");
        assert!(text.contains("12,353"), "{text}");
        assert!(
            text.contains(
                "redis: stream 1,500 | lag 1,000 | pending 500 | consumers 3 | dead 2 | failures 7"
            ),
            "{text}"
        );
        assert!(text.ends_with("dead 2 + failed 7: balanced"), "{text}");
        // The columns line up: every machine row is as wide as the header up to `seen`.
        let header = text.lines().nth(1).unwrap();
        let w1 = text.lines().find(|l| l.starts_with("w1 ")).unwrap();
        assert_eq!(
            header.find("processed").map(|i| i + 9),
            w1.find("12,345").map(|i| i + 6)
        );
    }

    #[test]
    fn an_ended_machine_shows_how_it_ended_and_every_life_counts() {
        let mut done = machine("p", "completed", 0, false);
        done.seen_ms_ago = 60_000;
        let mut again = machine("w2", "running", 95_252, false);
        again.earlier = Earlier {
            lives: 1,
            processed: 2_857_805,
            ..Earlier::default()
        };
        assert_eq!(done.state(), "completed");
        assert!(!done.is_live() && done.has_ended());
        assert_eq!(again.processed(), 2_953_057);
        let view = FleetView {
            stream: "tweets".into(),
            group: "timbr".into(),
            machines: vec![done, again],
            totals: Totals::default(),
            queue: GroupInfo::default(),
            balance: Balance {
                produced: 0,
                acked: 0,
                pending: 0,
                unread: 0,
                dead: 0,
                failed: 0,
                purged: 0,
                acked_data: 0,
            },
        };
        let text = view.to_string();
        let p = text.lines().find(|l| l.starts_with("p ")).unwrap();
        assert!(p.contains("completed") && !p.contains("GONE"), "{p}");
        let w2 = text.lines().find(|l| l.starts_with("w2 ")).unwrap();
        assert!(
            w2.contains("2,953,057") && w2.ends_with("(2 lives)"),
            "{w2}"
        );
    }

    #[test]
    fn live_means_heard_from_and_not_ended() {
        assert!(machine("a", "running", 0, false).is_live());
        assert!(!machine("a", "running", 0, true).is_live());
        assert!(!machine("a", "stopped", 0, false).is_live());
        assert!(machine("a", "producing", 0, false).is_live());
    }
}
