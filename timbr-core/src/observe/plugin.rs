//! Status plugins: add fields to every [`Status`] and parts to its displays, and follow the
//! machine while it runs; the sink's counts of a [`ZmqSink`](crate::io::ZmqSink) as one.

#[cfg(feature = "zmq")]
use crate::io::ZmqStats;
use crate::{observe::DisplayPart, Event, Status};

/// Extends a machine's [`Status`]: its fields go to [`Status::plugins`] under its
/// [`name`](StatusPlugin::name), its display part to [`Status::parts`].
///
/// Every method but `name` has an empty default. Methods are called from the machine's
/// threads and from whoever takes a status. A panic in one is caught, never propagated: a
/// plugin whose `fields` or `part` panics is left out of that status.
///
/// [`Progress`](crate::Progress) is the plugin timbr ships; the [`ZmqStats`] of a ZeroMQ sink
/// are one too.
pub trait StatusPlugin: Send + Sync + 'static {
    /// The plugin's name: its key in [`Status::plugins`].
    fn name(&self) -> &str;

    /// The fields this plugin adds, computed from `status` (which has no plugin fields yet).
    fn fields(&self, status: &Status) -> serde_json::Value {
        let _ = status;
        serde_json::Value::Null
    }

    /// Which of its [`fields`](StatusPlugin::fields) are counters: numbers that only grow
    /// while the machine lives (`sent`, `beats`…). Exporters keep them apart from the other
    /// numeric fields, which are gauges (timbr-http: `timbr_plugin_counter_total` and
    /// `timbr_plugin_gauge`). None by default.
    fn counters(&self) -> &[&str] {
        &[]
    }

    /// What this plugin shows in the text and HTML displays, given the `fields` it just
    /// computed.
    fn part(&self, status: &Status, fields: &serde_json::Value) -> Option<DisplayPart> {
        let _ = (status, fields);
        None
    }

    /// Called when the machine starts.
    fn started(&self, status: &Status) {
        let _ = status;
    }

    /// Called periodically while the machine runs (see
    /// [`MachineBuilder::tick`](crate::MachineBuilder::tick)), with a fresh status that
    /// includes this plugin's fields.
    fn tick(&self, status: &Status) {
        let _ = status;
    }

    /// Called once the machine has stopped, with its final status.
    fn stopped(&self, status: &Status) {
        let _ = status;
    }

    /// Called with every event, on the thread that delivers it, just before the handler
    /// decides on it. Keep it quick (a counter, a flag): it runs on the machine's data path
    /// for stage failures.
    fn event(&self, event: &Event) {
        let _ = event;
    }
}

/// The sink's counts in every status, under `plugins["zmq"]`: `endpoint`, `sent`,
/// `unrouted`, `subscriptions`, `topics_refused`, `connections`, `closings`.
#[cfg(feature = "zmq")]
impl StatusPlugin for ZmqStats {
    fn name(&self) -> &str {
        "zmq"
    }

    fn counters(&self) -> &[&str] {
        &["sent", "unrouted", "topics_refused", "closings"]
    }

    fn fields(&self, _status: &Status) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint(),
            "sent": self.sent(),
            "unrouted": self.unrouted(),
            "subscriptions": self.subscriptions(),
            "topics_refused": self.topics_refused(),
            "connections": self.connections(),
            "closings": self.closings(),
        })
    }
}
