//! `--status`: the machine's status snapshots, read beside its records, and the sign that
//! their endpoint went away (its program ended: no snapshot will come).

use std::time::{Duration, Instant};

use anyhow::Context;
use timbr_cli::connect;
use timbr_core::{machine::STATUS_TOPIC, zmq};

use crate::loss::{Loss, NoSentCount};

/// How long without a snapshot before giving up on the machine.
pub(crate) const SILENCE: Duration = Duration::from_secs(10);

/// After the machine ended, how long its last records may still be on their way.
pub(crate) const GRACE: Duration = Duration::from_millis(500);

/// The status endpoint, subscribed to.
pub(crate) struct StatusChannel {
    socket: zmq::Socket,
    /// A PAIR socket receiving `socket`'s monitor's `DISCONNECTED` events.
    gone: zmq::Socket,
    /// What the snapshots told of loss.
    pub(crate) loss: Loss,
    last_snapshot: Instant,
    /// When the endpoint went away.
    gone_at: Option<Instant>,
}

impl StatusChannel {
    /// Subscribes to the snapshots at `endpoint` (waiting up to `timeout` for it to
    /// answer) and watches it for going away.
    pub(crate) fn open(
        context: &zmq::Context,
        endpoint: &str,
        timeout: Duration,
    ) -> anyhow::Result<StatusChannel> {
        let socket = context.socket(zmq::SUB)?;
        socket.set_linger(0)?;
        socket.set_subscribe(STATUS_TOPIC.as_bytes())?;
        connect(context, &socket, endpoint, timeout)?;
        let gone =
            watch_disconnect(context, &socket).context("cannot watch the status endpoint")?;
        Ok(StatusChannel {
            socket,
            gone,
            loss: Loss::default(),
            last_snapshot: Instant::now(),
            gone_at: None,
        })
    }

    /// The sockets to poll: the snapshots, then the monitor's events.
    pub(crate) fn poll_items(&self) -> [zmq::PollItem<'_>; 2] {
        [
            self.socket.as_poll_item(zmq::POLLIN),
            self.gone.as_poll_item(zmq::POLLIN),
        ]
    }

    /// Reads what the poll found ready, `received` records in.
    ///
    /// # Errors
    ///
    /// A snapshot without the sink's count.
    pub(crate) fn take(
        &mut self,
        snapshots: bool,
        gone: bool,
        received: u64,
    ) -> Result<(), NoSentCount> {
        if gone {
            while self.gone.recv_multipart(zmq::DONTWAIT).is_ok() {}
            // The records' last messages may still be on their way: `GRACE` for them.
            self.gone_at.get_or_insert_with(Instant::now);
        }
        if snapshots {
            while let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) {
                if let [_, body] = &frames[..] {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
                        self.loss.note(&v, received)?;
                        self.last_snapshot = Instant::now();
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether nothing more will come: every record the ended machine sent arrived, or it
    /// ended (or its endpoint went away) and no record came for [`GRACE`].
    pub(crate) fn over(&self, received: u64, last_message: Instant) -> bool {
        let gone = self.gone_at.is_some_and(|at| at.elapsed() >= GRACE);
        self.loss.all_in(received) || ((self.loss.ended || gone) && last_message.elapsed() >= GRACE)
    }

    /// Whether no snapshot came for [`SILENCE`].
    pub(crate) fn silent(&self) -> bool {
        self.last_snapshot.elapsed() >= SILENCE
    }

    /// Whether the endpoint went away.
    pub(crate) fn went_away(&self) -> bool {
        self.gone_at.is_some()
    }
}

/// Watches `socket` for its peer going away: a PAIR socket receiving the monitor's
/// `DISCONNECTED` events.
fn watch_disconnect(context: &zmq::Context, socket: &zmq::Socket) -> zmq::Result<zmq::Socket> {
    let address = format!("inproc://timbr-sub-status-gone-{}", std::process::id());
    socket.monitor(&address, i32::from(zmq::SocketEvent::DISCONNECTED.to_raw()))?;
    let monitor = context.socket(zmq::PAIR)?;
    monitor.set_linger(0)?;
    monitor.connect(&address)?;
    Ok(monitor)
}
