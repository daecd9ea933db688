//! Where the server's statuses come from: one machine in this process, or a fleet whose
//! statuses arrive from elsewhere.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use timbr_core::{Datum, Machine, Status};

use crate::kept::KeptDatum;

/// One machine as the server sees it at one moment.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Where the status comes from: `in-process`, or the endpoint a fleet member publishes
    /// on. Unique within a feed; the `source` label of the metrics.
    pub source: String,
    /// The latest status, if one arrived (a fleet member may not have reported yet; a
    /// machine in this process that was dropped has none).
    pub status: Option<Status>,
    /// How long ago the status was taken here: zero in-process, the time since it arrived
    /// for a fleet member.
    pub age: Duration,
    /// Whether the status is older than the feed accepts (see [`FleetFeed::stale_after`]): the
    /// machine, or the way to it, is gone.
    pub stale: bool,
}

/// What the server serves: the statuses of one or more machines. Asked on every request,
/// from the server's threads; an implementation must answer quickly and never block on
/// the machines' data path ([`Machine::status`] does not).
pub trait StatusFeed: Send + Sync + 'static {
    /// Every machine, in a stable order.
    fn observe(&self) -> Vec<Observed>;

    /// What the fleet's registry says, if it has one, as its owner serializes it (the
    /// dashboard shows timbr-redis's `FleetView`: every machine it lists, producers
    /// included, the stream as Redis sees it, and the balance). None by default.
    fn registry(&self) -> Option<serde_json::Value> {
        None
    }

    /// What a handler kept when it stopped the machine from `source` (a `Debugger` keeps
    /// the failing datum), if the feed can tell: a machine in this process can. None by
    /// default.
    fn kept(&self, source: &str) -> Option<KeptDatum> {
        let _ = source;
        None
    }
}

/// A machine in this process. Holds it weakly: serving never keeps a machine alive, and
/// once it is dropped it is reported without a status (not ready, not live).
pub struct MachineFeed<T: Datum> {
    machine: Weak<Machine<T>>,
}

impl<T: Datum> MachineFeed<T> {
    /// A feed of `machine`.
    pub fn new(machine: &Arc<Machine<T>>) -> Self {
        MachineFeed {
            machine: Arc::downgrade(machine),
        }
    }
}

impl<T: Datum> StatusFeed for MachineFeed<T> {
    fn kept(&self, _source: &str) -> Option<KeptDatum> {
        let kept = self.machine.upgrade()?.kept()?;
        Some(KeptDatum::of::<T>(&kept))
    }

    fn observe(&self) -> Vec<Observed> {
        let status = self.machine.upgrade().map(|m| m.status());
        vec![Observed {
            source: "in-process".to_owned(),
            stale: status.is_none(),
            status,
            age: Duration::ZERO,
        }]
    }
}

/// The default for [`FleetFeed::stale_after`].
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(10);

struct Member {
    source: String,
    latest: Option<(Status, Instant)>,
}

/// Several machines whose statuses arrive from elsewhere: [`FleetWatch`](crate::FleetWatch) subscribes to
/// machines publishing over ZeroMQ (`timbr_core::Remote`); [`FleetFeed::update`] takes them
/// from any other transport.
pub struct FleetFeed {
    members: Mutex<Vec<Member>>,
    stale_after: Duration,
    registry: Mutex<Option<serde_json::Value>>,
}

impl Default for FleetFeed {
    fn default() -> Self {
        FleetFeed::new(std::iter::empty::<String>())
    }
}

impl FleetFeed {
    /// A fleet of these sources (endpoints, or any names unique within the fleet), none of
    /// which has reported yet.
    pub fn new<S: Into<String>>(sources: impl IntoIterator<Item = S>) -> Self {
        let mut members: Vec<Member> = Vec::new();
        for source in sources {
            let source = source.into();
            if !members.iter().any(|m| m.source == source) {
                members.push(Member {
                    source,
                    latest: None,
                });
            }
        }
        FleetFeed {
            members: Mutex::new(members),
            stale_after: DEFAULT_STALE_AFTER,
            registry: Mutex::new(None),
        }
    }

    /// A status older than `after` is stale: the member is reported down (default
    /// [`DEFAULT_STALE_AFTER`]; at least 1 ms).
    pub fn stale_after(mut self, after: Duration) -> Self {
        self.stale_after = after.max(Duration::from_millis(1));
        self
    }

    /// Records `status` as the latest from `source` (a new source joins the fleet).
    pub fn update(&self, source: &str, status: Status) {
        let mut members = self.members.lock();
        let now = Instant::now();
        match members.iter_mut().find(|m| m.source == source) {
            Some(member) => member.latest = Some((status, now)),
            None => members.push(Member {
                source: source.to_owned(),
                latest: Some((status, now)),
            }),
        }
    }

    /// `source` joins the fleet with no status yet (nothing changes if it is a member).
    pub fn join(&self, source: &str) {
        let mut members = self.members.lock();
        if !members.iter().any(|m| m.source == source) {
            members.push(Member {
                source: source.to_owned(),
                latest: None,
            });
        }
    }

    /// `source` leaves the fleet, its last status with it; whether it was a member.
    pub fn remove(&self, source: &str) -> bool {
        let mut members = self.members.lock();
        let before = members.len();
        members.retain(|m| m.source != source);
        members.len() != before
    }

    /// Records what the fleet's registry says now (see [`StatusFeed::registry`]): the
    /// dashboard shows it beside the members' own statuses, `/api/status` serves it. A
    /// watcher that reads a registry (`timbr-watch http --redis`) sets it at every look.
    pub fn set_registry(&self, view: serde_json::Value) {
        *self.registry.lock() = Some(view);
    }

    /// How many members the fleet has.
    pub fn len(&self) -> usize {
        self.members.lock().len()
    }

    /// Whether the fleet has no members.
    pub fn is_empty(&self) -> bool {
        self.members.lock().is_empty()
    }
}

impl StatusFeed for FleetFeed {
    fn observe(&self) -> Vec<Observed> {
        let now = Instant::now();
        self.members
            .lock()
            .iter()
            .map(|m| {
                let age = m
                    .latest
                    .as_ref()
                    .map_or(Duration::ZERO, |(_, at)| now.saturating_duration_since(*at));
                Observed {
                    source: m.source.clone(),
                    status: m.latest.as_ref().map(|(s, _)| s.clone()),
                    age,
                    stale: m.latest.is_none() || age > self.stale_after,
                }
            })
            .collect()
    }

    fn registry(&self) -> Option<serde_json::Value> {
        self.registry.lock().clone()
    }
}

impl<F: StatusFeed + ?Sized> StatusFeed for Arc<F> {
    fn observe(&self) -> Vec<Observed> {
        (**self).observe()
    }

    fn registry(&self) -> Option<serde_json::Value> {
        (**self).registry()
    }

    fn kept(&self, source: &str) -> Option<KeptDatum> {
        (**self).kept(source)
    }
}
