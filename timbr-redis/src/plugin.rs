//! The shared queue as Redis sees it, in a machine's status.

use timbr_core::observe::DisplayPart;
use timbr_core::{Status, StatusPlugin};

use crate::RedisQueue;

/// A status plugin showing a [`RedisQueue`]'s [`report`](RedisQueue::report) under
/// `plugins["redis"]`: stream length, group lag, pending, consumers, redeliveries, claims,
/// dead letters, the connection — next to the machine's own counts.
pub struct RedisStatus<T> {
    queue: RedisQueue<T>,
}

impl<T> RedisStatus<T> {
    /// A plugin reporting on `queue`.
    pub fn new(queue: &RedisQueue<T>) -> Self {
        RedisStatus {
            queue: queue.clone(),
        }
    }
}

impl<T: Send + 'static> StatusPlugin for RedisStatus<T> {
    fn name(&self) -> &str {
        "redis"
    }

    fn fields(&self, _status: &Status) -> serde_json::Value {
        serde_json::to_value(self.queue.report()).unwrap_or_default()
    }

    fn part(&self, _status: &Status, _fields: &serde_json::Value) -> Option<DisplayPart> {
        let r = self.queue.report();
        let g = &r.group_info;
        let lag = g.lag.map_or_else(|| "?".to_owned(), |l| l.to_string());
        let link = match (&r.refused, r.connected) {
            // Redis answers, refusing: its own words name the cause (OOM, WRONGTYPE…).
            (Some(refused), _) => format!("REFUSED ({refused})"),
            (None, true) => "connected".to_owned(),
            (None, false) => "DISCONNECTED".to_owned(),
        };
        let text = format!(
            "redis {}/{} as {}: {link}, {} outages\n  stream {} | lag {lag} | pending {} | consumers {} | dead {}\n  mine: acked {} | redelivered {} | claimed {} | split {} | dead-lettered {} ({} undecodable, {} panicked) | put {}",
            r.stream, r.group, r.consumer, r.outages, g.stream_length, g.pending, g.consumers,
            g.dead_letters, r.acked, r.redeliveries, r.claimed, r.split, r.dead_lettered, r.undecodable, r.panicked, r.put,
        );
        let html = format!("<pre>{}</pre>", escape(&text));
        Some(DisplayPart::new("redis", text, html))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
