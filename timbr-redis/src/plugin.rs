//! The shared queue as Redis sees it, in a machine's status.

use parking_lot::Mutex;
use timbr_core::observe::{escape_html, DisplayPart};
use timbr_core::{Status, StatusPlugin};

use crate::group::group_info;
use crate::report::{GroupInfo, QueueReport};
use crate::{Fleet, RedisQueue};

/// A status plugin showing a [`RedisQueue`]'s [`report`](RedisQueue::report) under
/// `plugins["redis"]`: stream length, group lag, pending, consumers, redeliveries, claims,
/// dead letters, the connection — next to the machine's own counts.
///
/// While the machine runs, the group is as the queue last saw it (twice a second while it
/// reads); once the machine has stopped, as Redis shows it after the machine's last
/// acknowledgements, so that a final status does not show the backlog of a moment before.
pub struct RedisStatus<T> {
    queue: RedisQueue<T>,
    /// The group read when the machine stopped (until it starts again).
    at_stop: Mutex<Option<GroupInfo>>,
}

impl<T> RedisStatus<T> {
    /// A plugin reporting on `queue`.
    pub fn new(queue: &RedisQueue<T>) -> Self {
        RedisStatus {
            queue: queue.clone(),
            at_stop: Mutex::new(None),
        }
    }

    fn report(&self) -> QueueReport {
        let mut report = self.queue.report();
        if let Some(info) = &*self.at_stop.lock() {
            report.group_info = info.clone();
        }
        report
    }
}

impl<T: Send + 'static> StatusPlugin for RedisStatus<T> {
    fn name(&self) -> &str {
        "redis"
    }

    fn fields(&self, _status: &Status) -> serde_json::Value {
        serde_json::to_value(self.report()).unwrap_or_default()
    }

    fn started(&self, _status: &Status) {
        *self.at_stop.lock() = None;
    }

    fn stopped(&self, _status: &Status) {
        // One look on a connection of its own (the queue's may be busy or closing); none
        // when the queue saw Redis gone: a stop does not wait for an outage.
        if !self.queue.report().connected {
            return;
        }
        let fresh = Fleet::connect(self.queue.options().clone())
            .and_then(|mut fleet| fleet.query("XINFO GROUPS", group_info));
        if let Ok(info) = fresh {
            *self.at_stop.lock() = Some(info);
        }
    }

    fn part(&self, _status: &Status, _fields: &serde_json::Value) -> Option<DisplayPart> {
        let r = self.report();
        let g = &r.group_info;
        let lag = g.lag.map_or_else(|| "?".to_owned(), |l| l.to_string());
        let link = match (&r.refused, r.connected) {
            // Redis answers, refusing: its own words name the cause (OOM, WRONGTYPE…).
            (Some(refused), _) => format!("REFUSED ({refused})"),
            (None, true) => "connected".to_owned(),
            (None, false) => "DISCONNECTED".to_owned(),
        };
        // A worker's queue puts nothing: "put 0" beside a fleet's producer reads as a loss.
        let put = if r.put > 0 {
            format!(" | put {}", r.put)
        } else {
            String::new()
        };
        let text = format!(
            "redis {}/{} as {}: {link}, {} outages\n  stream {} | lag {lag} | pending {} | consumers {} | dead {}\n  mine: acked {} | redelivered {} | claimed {} | split {} | dead-lettered {} ({} undecodable, {} panicked){put}",
            r.stream, r.group, r.consumer, r.outages, g.stream_length, g.pending, g.consumers,
            g.dead_letters, r.acked, r.redeliveries, r.claimed, r.split, r.dead_lettered, r.undecodable, r.panicked,
        );
        let html = format!("<pre>{}</pre>", escape_html(&text));
        Some(DisplayPart::new("redis", text, html))
    }
}
