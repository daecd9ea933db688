//! The server: one accepting thread, and one thread per connection up to a bound. Every
//! connection answers one request and closes; a client too slow to send its request or to
//! read the answer is cut off by the timeouts; past the bound a connection gets `503` at
//! once. Dropping the [`HttpServer`] stops it and waits (boundedly) for its threads.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use thiserror::Error;
use timbr_core::{Datum, Machine};

use crate::feed::{MachineFeed, StatusFeed};
use crate::health::HealthCheck;
use crate::options::HttpOptions;
use crate::request::{self, RequestError};
use crate::response::Response;
use crate::routes;

/// Why a server could not start.
#[derive(Debug, Error)]
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

/// What the threads share.
pub(crate) struct App {
    pub(crate) feed: Box<dyn StatusFeed>,
    pub(crate) health: HealthCheck,
    pub(crate) options: HttpOptions,
    stopping: Mutex<bool>,
    stop: Condvar,
    /// Connections being served.
    active: Mutex<usize>,
    idle: Condvar,
    requests: AtomicU64,
    refused: AtomicU64,
}

impl App {
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
    /// Serves whatever `feed` reports (a [`Fleet`](crate::Fleet), or a feed of your own).
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
        let app = Arc::new(App {
            feed: Box::new(feed),
            health: HealthCheck::new(options.stall_after),
            options,
            stopping: Mutex::new(false),
            stop: Condvar::new(),
            active: Mutex::new(0),
            idle: Condvar::new(),
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let shared = Arc::clone(&app);
        let accept = std::thread::Builder::new()
            .name("timbr-http".to_owned())
            .spawn(move || accept_loop(&listener, &shared))
            .map_err(ServeError::Spawn)?;
        Ok(HttpServer {
            addr,
            app,
            accept: Some(accept),
        })
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

    /// Connections refused with `503` because [`max_connections`](HttpOptions::max_connections)
    /// were being served.
    pub fn refused(&self) -> u64 {
        self.app.refused.load(Ordering::Relaxed)
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
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        // Connections end within their timeouts (streams at their next push): wait for them,
        // boundedly.
        let o = &self.app.options;
        let bound = o.read_timeout + o.write_timeout + o.push_interval + Duration::from_secs(1);
        let mut active = self.app.active.lock();
        let deadline = std::time::Instant::now() + bound;
        while *active > 0 {
            if self.app.idle.wait_until(&mut active, deadline).timed_out() {
                break;
            }
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
        {
            let mut active = app.active.lock();
            if *active >= app.options.max_connections {
                drop(active);
                app.refused.fetch_add(1, Ordering::Relaxed);
                refuse(&mut stream, "too many connections");
                continue;
            }
            *active += 1;
        }
        let shared = Arc::clone(app);
        let spawned = std::thread::Builder::new()
            .name("timbr-http-conn".to_owned())
            .spawn(move || {
                let mut stream = stream;
                connection(&shared, &mut stream);
                let _ = stream.shutdown(Shutdown::Both);
                let mut active = shared.active.lock();
                *active -= 1;
                shared.idle.notify_all();
            });
        if spawned.is_err() {
            let mut active = app.active.lock();
            *active -= 1;
            app.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A quick `503` from the accepting thread, which must not wait on a slow client.
fn refuse(stream: &mut TcpStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = Response::error(503, "Service Unavailable", why)
        .header("Retry-After", "1")
        .write_to(stream, true);
    let _ = stream.shutdown(Shutdown::Both);
}

fn connection(app: &App, stream: &mut TcpStream) {
    let o = &app.options;
    let req = request::read(stream, o.max_header_bytes, o.read_timeout);
    app.requests.fetch_add(1, Ordering::Relaxed);
    let result = match req {
        Ok(req) => routes::answer(app, &req, stream),
        Err(RequestError::Closed) => Ok(()),
        Err(e) => {
            let (code, reason) = e.status();
            Response::error(code, reason, &e.to_string()).write_to(stream, true)
        }
    };
    // A client that left or stalled: nothing more to tell it.
    drop(result);
    let _ = stream.flush();
}
