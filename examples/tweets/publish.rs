//! Where the single machine's records go (ZeroMQ, or nowhere) and how it is watched (HTTP,
//! a `Remote`), and the wait for subscribers before it starts.

use std::error::Error;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use timbr_core::io::ZmqStats;
use timbr_core::{
    Machine, MachineBuilder, NullSink, Remote, RemoteOptions, Sink, SinkError, ZmqSink,
};
use timbr_tweets::Tweet;

use crate::{cli, Ended, Options, SIGNAL_CHECK, SUBSCRIBER_WAIT};

/// What the run publishes on: the sink's counts, and the sink itself while subscribers are
/// awaited.
pub(crate) struct Publishing {
    pub(crate) zmq: Option<ZmqStats>,
    waiting: Option<Arc<Mutex<ZmqSink>>>,
}

/// Gives `builder` the sink `o` asks for: ZeroMQ (saying on `human` where, and how to read
/// it), or none.
pub(crate) fn sink(
    o: &Options,
    builder: MachineBuilder<Tweet>,
    human: &mut dyn Write,
) -> Result<(MachineBuilder<Tweet>, Publishing), Box<dyn Error>> {
    if !o.publish {
        let nothing = Publishing {
            zmq: None,
            waiting: None,
        };
        return Ok((builder.sink(NullSink), nothing));
    }
    let sink = match &o.endpoint {
        Some(endpoint) => ZmqSink::bind(endpoint)?,
        None => ZmqSink::bind_default()?,
    };
    let endpoint = sink.last_endpoint().to_owned();
    writeln!(human, "publishing every record on {endpoint}")?;
    writeln!(human, "  read them with: {} {endpoint}", cli("timbr-sub"))?;
    let zmq = Some(sink.stats());
    // The sink's counts in every status, so subscribers can compare (`timbr-sub --status`).
    let builder = builder.plugin(sink.stats());
    if o.subscribers == 0 {
        let publishing = Publishing { zmq, waiting: None };
        return Ok((builder.sink(sink), publishing));
    }
    // The machine (and its status endpoint) exists while the subscribers are awaited, so
    // they can follow its status from the start; the wait needs the sink itself.
    let shared = Arc::new(Mutex::new(sink));
    let publishing = Publishing {
        zmq,
        waiting: Some(Arc::clone(&shared)),
    };
    Ok((builder.sink(SharedSink(shared)), publishing))
}

/// Serves `machine` as `o` asks: metrics, health and the dashboard over HTTP (`--http`),
/// status snapshots and a control endpoint (when publishing); each said on `human`.
pub(crate) fn serve(
    o: &Options,
    machine: &Arc<Machine<Tweet>>,
    human: &mut dyn Write,
) -> Result<(Option<timbr_http::HttpServer>, Option<Remote>), Box<dyn Error>> {
    let http = match o.http {
        Some(addr) => {
            let options = timbr_http::HttpOptions::new()
                .addr(addr)
                .allow_remote(o.http_allow_remote);
            let server = timbr_http::serve(machine, options).map_err(|e| match e {
                // The library's advice names its option; this program's is a flag.
                timbr_http::ServeError::NotLoopback(addr) => format!(
                    "{addr} is reachable from other hosts: add --http-allow-remote to serve \
                     there anyway (read-only), or use 127.0.0.1"
                )
                .into(),
                e => Box::<dyn Error>::from(e),
            })?;
            let url = server.url();
            writeln!(human, "dashboard:      {url}  (metrics: {url}metrics)")?;
            Some(server)
        }
        None => None,
    };
    // Watchable from a second terminal: status snapshots and a control endpoint.
    if !o.publish {
        return Ok((http, None));
    }
    let remote = Remote::serve(machine, RemoteOptions::new())?;
    let watch = cli("timbr-watch");
    writeln!(
        human,
        "watch it with:  {watch} status {}",
        remote.status_endpoint()
    )?;
    writeln!(
        human,
        "stop it with:   {watch} control {} stop",
        remote.control_endpoint()
    )?;
    Ok((http, Some(remote)))
}

/// With `--subscribers N`: waits for them (up to [`SUBSCRIBER_WAIT`]) before anything
/// starts. `Some` when the run ends here (a signal came first; its status went out).
///
/// # Errors
///
/// The subscribers did not come in time, or writing failed.
pub(crate) fn await_subscribers(
    o: &Options,
    machine: &Machine<Tweet>,
    publishing: &Publishing,
    remote: Option<&Remote>,
    out: &mut dyn Write,
    human: &mut dyn Write,
    signal: &AtomicUsize,
) -> Result<Option<Ended>, Box<dyn Error>> {
    let (Some(sink), Some(zmq), Some(remote)) = (&publishing.waiting, &publishing.zmq, remote)
    else {
        return Ok(None);
    };
    writeln!(
        human,
        "waiting (up to {SUBSCRIBER_WAIT:?}) for {} subscriber(s); each can follow along with: \
         {} {} --status {} --summary",
        o.subscribers,
        cli("timbr-sub"),
        zmq.endpoint(),
        remote.status_endpoint()
    )?;
    human.flush()?;
    match wait_for_subscribers(sink, o.subscribers, signal) {
        Waited::Arrived => Ok(None),
        Waited::TimedOut => Err(format!(
            "{} subscriber(s) did not connect within {SUBSCRIBER_WAIT:?}",
            o.subscribers
        )
        .into()),
        Waited::Signal(sig) => {
            let status = machine.status();
            writeln!(
                human,
                "signal {sig} while waiting for subscribers: nothing was started\n\n{status}"
            )?;
            if o.json {
                writeln!(out, "{}", serde_json::to_string(&status)?)?;
            }
            out.flush()?;
            human.flush()?;
            Ok(Some(Ended::Interrupted(sig)))
        }
    }
}

/// The ZeroMQ sink, shared by the machine and the wait for subscribers (which needs the
/// sink's socket before any record goes out, while the machine already exists).
struct SharedSink(Arc<Mutex<ZmqSink>>);

impl SharedSink {
    fn sink(&self) -> std::sync::MutexGuard<'_, ZmqSink> {
        // A panic while sending is the machine's to report; the sink itself is still whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Sink for SharedSink {
    fn send(&mut self, record: timbr_core::Record) -> Result<(), SinkError> {
        self.sink().send(record)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.sink().flush()
    }

    fn describe(&self) -> String {
        self.sink().describe()
    }
}

/// How the wait for subscribers ended.
enum Waited {
    Arrived,
    TimedOut,
    /// A signal came first (its number).
    Signal(usize),
}

/// Waits up to [`SUBSCRIBER_WAIT`] for `n` subscribers, looking for a signal every
/// [`SIGNAL_CHECK`].
fn wait_for_subscribers(sink: &Mutex<ZmqSink>, n: u64, signal: &AtomicUsize) -> Waited {
    let deadline = Instant::now() + SUBSCRIBER_WAIT;
    let mut sink = sink
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let sig = signal.load(Ordering::Acquire);
        if sig != 0 {
            return Waited::Signal(sig);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if sink.wait_for_subscribers(n, left.min(SIGNAL_CHECK)) {
            return Waited::Arrived;
        }
        if left <= SIGNAL_CHECK {
            return Waited::TimedOut;
        }
    }
}
