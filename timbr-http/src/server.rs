//! The server: one accepting thread, and one thread per connection up to a bound. Every
//! connection answers one request and closes; a client too slow to send its request or to
//! read the answer is cut off by the timeouts. Connections hold slots on two budgets (see
//! `slots.rs`): event streams, and requests, where a newcomer cuts off the oldest connection
//! still sending its head and only gets `503` at once when every request slot is answering.
//! Dropping the [`HttpServer`] stops it and waits (boundedly) for its threads.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use thiserror::Error;
use timbr_core::{Datum, Machine};

use crate::board::{board, Board};
use crate::feed::{MachineFeed, Observed, StatusFeed};
use crate::health::HealthCheck;
use crate::history::History;
use crate::options::HttpOptions;
use crate::request::{self, RequestError};
use crate::response::Response;
use crate::routes;
use crate::slots::{self, Full, Slot, Slots};

/// Why a server could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address is not a loopback one and [`HttpOptions::allow_remote`] was not set.
    #[error(
        "{0} is reachable from other hosts; allow it explicitly (allow_remote) or use 127.0.0.1"
    )]
    NotLoopback(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The accepting thread could not be started.
    #[error("cannot start the server's thread")]
    Spawn(#[source] std::io::Error),
}

/// A [`StatusFeed`] panicked: the request it was asked for gets `500` with this message.
#[derive(Debug, Error)]
#[error("the status feed panicked: {0}")]
pub(crate) struct FeedPanicked(String);

/// What the threads share.
pub(crate) struct App {
    feed: Box<dyn StatusFeed>,
    pub(crate) health: HealthCheck,
    pub(crate) history: Mutex<History>,
    pub(crate) options: HttpOptions,
    stopping: Mutex<bool>,
    stop: Condvar,
    slots: Slots,
    requests: AtomicU64,
    refused: AtomicU64,
    cut_off: AtomicU64,
    panics: AtomicU64,
    last_panic: Mutex<Option<String>>,
}

impl App {
    /// The feed's statuses. A panic in the feed (user code) is caught here, counted and kept
    /// (see [`HttpServer::panics`]), and becomes an error the request is answered with.
    pub(crate) fn observe(&self) -> Result<Vec<Observed>, FeedPanicked> {
        catch_unwind(AssertUnwindSafe(|| self.feed.observe())).map_err(|payload| {
            let message = panic_message(payload);
            self.panicked(&message);
            FeedPanicked(message)
        })
    }

    /// The feed's registry view, if any; a panic is caught and counted as in
    /// [`observe`](App::observe), and shows as no view.
    pub(crate) fn registry(&self) -> Option<serde_json::Value> {
        catch_unwind(AssertUnwindSafe(|| self.feed.registry())).unwrap_or_else(|payload| {
            self.panicked(&panic_message(payload));
            None
        })
    }

    /// The board of `observed`: with the health verdicts, the registry's view and what
    /// handlers kept.
    pub(crate) fn board(&self, observed: Vec<Observed>) -> Board {
        let mut board = board(observed, &self.health, self.registry());
        for entry in &mut board.machines {
            entry.kept = catch_unwind(AssertUnwindSafe(|| self.feed.kept(&entry.source)))
                .unwrap_or_else(|payload| {
                    self.panicked(&panic_message(payload));
                    None
                });
        }
        board
    }

    fn panicked(&self, message: &str) {
        self.panics.fetch_add(1, Ordering::Relaxed);
        *self.last_panic.lock() = Some(message.to_owned());
    }

    /// Waits up to `d`; true if the server is stopping.
    pub(crate) fn wait_stop(&self, d: Duration) -> bool {
        let mut stopping = self.stopping.lock();
        if !*stopping {
            self.stop.wait_for(&mut stopping, d);
        }
        *stopping
    }

    fn is_stopping(&self) -> bool {
        *self.stopping.lock()
    }
}

/// A running HTTP server. Dropping it stops it.
pub struct HttpServer {
    addr: SocketAddr,
    app: Arc<App>,
    accept: Option<JoinHandle<()>>,
    sampler: Option<JoinHandle<()>>,
}

/// Serves `machine`'s metrics, health and dashboard in this process, as `options` say.
///
/// The server holds the machine weakly: it never keeps it alive, and reports it gone (not
/// ready, not live) once it is dropped.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use timbr_core::Machine;
/// use timbr_http::HttpOptions;
///
/// let machine = Arc::new(Machine::<u64>::new());
/// let server = timbr_http::serve(&machine, HttpOptions::new())?;
/// println!("dashboard on http://{}/", server.addr());
/// # Ok::<(), timbr_http::ServeError>(())
/// ```
///
/// # Errors
///
/// [`ServeError`] if the address is not loopback (unless allowed), cannot be bound, or the
/// server's thread cannot start.
pub fn serve<T: Datum>(
    machine: &Arc<Machine<T>>,
    options: HttpOptions,
) -> Result<HttpServer, ServeError> {
    HttpServer::start(MachineFeed::new(machine), options)
}

/// [`serve`] as a method: `machine.serve_http(HttpOptions::new())`.
pub trait ServeHttp {
    /// Serves this machine's metrics, health and dashboard (see [`serve`]).
    ///
    /// # Errors
    ///
    /// As [`serve`].
    fn serve_http(&self, options: HttpOptions) -> Result<HttpServer, ServeError>;
}

impl<T: Datum> ServeHttp for Arc<Machine<T>> {
    fn serve_http(&self, options: HttpOptions) -> Result<HttpServer, ServeError> {
        serve(self, options)
    }
}

impl HttpServer {
    /// Serves whatever `feed` reports (a [`FleetFeed`](crate::FleetFeed), or a feed of your own).
    ///
    /// # Errors
    ///
    /// As [`serve`].
    pub fn start(feed: impl StatusFeed, options: HttpOptions) -> Result<HttpServer, ServeError> {
        let addr = options.addr;
        if !addr.ip().is_loopback() && !options.allow_remote {
            return Err(ServeError::NotLoopback(addr));
        }
        let listener =
            TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let (streams, requests) = options.budgets();
        let app = Arc::new(App {
            feed: Box::new(feed),
            health: HealthCheck::new(options.stall_after),
            history: Mutex::new(History::new(options.history_interval)),
            options,
            stopping: Mutex::new(false),
            stop: Condvar::new(),
            slots: Slots::new(streams, requests),
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            cut_off: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            last_panic: Mutex::new(None),
        });
        let shared = Arc::clone(&app);
        let sampler = std::thread::Builder::new()
            .name("timbr-http-history".to_owned())
            .spawn(move || sample(&shared))
            .map_err(ServeError::Spawn)?;
        let mut server = HttpServer {
            addr,
            app: Arc::clone(&app),
            accept: None,
            sampler: Some(sampler),
        };
        let shared = Arc::clone(&app);
        // On failure, dropping `server` stops the sampler.
        server.accept = Some(
            std::thread::Builder::new()
                .name("timbr-http".to_owned())
                .spawn(move || accept_loop(&listener, &shared))
                .map_err(ServeError::Spawn)?,
        );
        Ok(server)
    }

    /// The address it listens on (with the port chosen, if 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dashboard's URL, `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Requests read so far (well-formed or not).
    pub fn requests(&self) -> u64 {
        self.app.requests.load(Ordering::Relaxed)
    }

    /// Connections and event streams refused with `503` because their budget was spent
    /// (see [`max_connections`](HttpOptions::max_connections) and
    /// [`max_streams`](HttpOptions::max_streams)).
    pub fn refused(&self) -> u64 {
        self.app.refused.load(Ordering::Relaxed)
    }

    /// Connections cut off before they had sent their request head, to make room for newer
    /// ones when every request slot was taken.
    pub fn cut_off(&self) -> u64 {
        self.app.cut_off.load(Ordering::Relaxed)
    }

    /// Connections being served now (and connections cut off whose thread has not ended).
    pub fn connections(&self) -> usize {
        self.app.slots.held()
    }

    /// Panics caught while serving: in the [`StatusFeed`] (the request gets `500` saying so;
    /// the history's sampling thread skips that sample) or anywhere else on a connection's
    /// thread (the connection is closed). Either way the connection's slot is released and
    /// the server goes on.
    pub fn panics(&self) -> u64 {
        self.app.panics.load(Ordering::Relaxed)
    }

    /// The message of the last panic caught while serving.
    pub fn last_panic(&self) -> Option<String> {
        self.app.last_panic.lock().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        *self.app.stopping.lock() = true;
        self.app.stop.notify_all();
        // Wake the accepting thread with a connection of our own.
        let ip = match self.addr.ip() {
            ip if !ip.is_unspecified() => ip,
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        let _ = TcpStream::connect_timeout(
            &SocketAddr::new(ip, self.addr.port()),
            Duration::from_secs(1),
        );
        for thread in [self.accept.take(), self.sampler.take()]
            .into_iter()
            .flatten()
        {
            let _ = thread.join();
        }
        // Connections end within their timeouts (streams at their next push): wait for them,
        // boundedly.
        let o = &self.app.options;
        let bound = o.read_timeout + o.write_timeout + o.push_interval + Duration::from_secs(1);
        self.app
            .slots
            .wait_all_released(std::time::Instant::now() + bound);
    }
}

/// Takes a snapshot into the history every interval, until the server stops.
fn sample(app: &App) {
    loop {
        if let Ok(observed) = app.observe() {
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            app.history.lock().record(&observed, at);
        }
        if app.wait_stop(app.options.history_interval) {
            return;
        }
    }
}

fn accept_loop(listener: &TcpListener, app: &Arc<App>) {
    for stream in listener.incoming() {
        if app.is_stopping() {
            return;
        }
        let Ok(mut stream) = stream else {
            // Out of descriptors or a connection reset before accept: go on with the next.
            continue;
        };
        let _ = stream.set_write_timeout(Some(app.options.write_timeout));
        let _ = stream.set_nodelay(true);
        let Ok(handle) = stream.try_clone() else {
            app.refused.fetch_add(1, Ordering::Relaxed);
            refuse(&mut stream, "out of file descriptors");
            continue;
        };
        let id = match app.slots.admit(handle) {
            Ok((id, cut)) => {
                if let Some(cut) = cut {
                    app.cut_off.fetch_add(1, Ordering::Relaxed);
                    slots::cut_off(&cut);
                }
                id
            }
            Err(full) => {
                app.refused.fetch_add(1, Ordering::Relaxed);
                refuse(&mut stream, full.message());
                continue;
            }
        };
        let shared = Arc::clone(app);
        let spawned = std::thread::Builder::new()
            .name("timbr-http-conn".to_owned())
            .spawn(move || {
                // Released however the thread ends, a panic included.
                let mut slot = shared.slots.guard(id);
                let mut stream = stream;
                let served = catch_unwind(AssertUnwindSafe(|| {
                    connection(&shared, &mut slot, &mut stream);
                }));
                if let Err(payload) = served {
                    shared.panicked(&panic_message(payload));
                }
                // Free the slot before the client sees the connection end, so that its next
                // request finds it free.
                drop(slot);
                let _ = stream.shutdown(Shutdown::Both);
            });
        if spawned.is_err() {
            drop(app.slots.guard(id));
            app.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A quick `503` from the accepting thread, which must not wait on a slow client.
fn refuse(stream: &mut TcpStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = Response::error(503, why)
        .header("Retry-After", "1")
        .write_to(stream, true);
    let _ = stream.shutdown(Shutdown::Both);
}

fn connection(app: &App, slot: &mut Slot<'_>, stream: &mut TcpStream) {
    let o = &app.options;
    let req = request::read(stream, o.max_header_bytes, o.read_timeout);
    app.requests.fetch_add(1, Ordering::Relaxed);
    let result = match req {
        // Cut off while its head arrived: its socket is shut down.
        Ok(_) if !slot.answering() => return,
        Ok(req) => routes::answer(app, &req, slot, stream),
        Err(RequestError::Closed) => Ok(()),
        Err(e) => Response::error(e.status(), &e.to_string()).write_to(stream, true),
    };
    // A client that left or stalled: nothing more to tell it.
    drop(result);
    let _ = stream.flush();
}

/// The text of a panic's payload (the scheduler's conversion, which timbr-core uses too).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    timbr_core::sched::TaskError::from_panic(payload)
        .panic_message()
        .unwrap_or_default()
        .to_owned()
}

/// A stream slot for an event stream, or the `503` saying why not.
pub(crate) fn stream_slot(app: &App, slot: &mut Slot<'_>) -> Result<(), Response> {
    slot.streaming().map_err(|full: Full| {
        app.refused.fetch_add(1, Ordering::Relaxed);
        Response::error(503, full.message()).header("Retry-After", "5")
    })
}
