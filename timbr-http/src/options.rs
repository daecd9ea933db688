//! Where the HTTP server listens and the bounds it keeps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The most connections served at once unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;
/// The upper bound of [`HttpOptions::max_connections`].
pub const MAX_CONNECTIONS: usize = 1024;
/// The least [`HttpOptions::max_connections`]: one for a request, one for an event stream.
pub const MIN_CONNECTIONS: usize = 2;
/// The longest request head (request line and headers) read unless told otherwise, in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;
/// The upper bound of [`HttpOptions::max_header_bytes`].
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a client may take to send its request head unless told otherwise.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write may wait for a slow client unless told otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a machine with data waiting may go without finishing one before it is reported
/// not live, unless told otherwise.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(60);
/// How often the dashboard's event stream sends a snapshot unless told otherwise.
pub const DEFAULT_PUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the server's history takes a snapshot unless told otherwise.
pub const DEFAULT_HISTORY_INTERVAL: Duration = Duration::from_secs(1);

/// How an HTTP server listens: on loopback by default, with every resource bounded.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timbr_http::HttpOptions;
///
/// let options = HttpOptions::new()
///     .addr("127.0.0.1:9464".parse()?)
///     .stall_after(Duration::from_secs(30));
/// assert_eq!(options.bind_addr().port(), 9464);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub(crate) addr: SocketAddr,
    pub(crate) allow_remote: bool,
    pub(crate) max_connections: usize,
    /// `None`: half of `max_connections`.
    pub(crate) max_streams: Option<usize>,
    pub(crate) max_header_bytes: usize,
    pub(crate) read_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) stall_after: Duration,
    pub(crate) push_interval: Duration,
    pub(crate) history_interval: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            allow_remote: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_streams: None,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            stall_after: DEFAULT_STALL_AFTER,
            push_interval: DEFAULT_PUSH_INTERVAL,
            history_interval: DEFAULT_HISTORY_INTERVAL,
        }
    }
}

impl HttpOptions {
    /// `127.0.0.1`, a free port, loopback only, the default bounds.
    pub fn new() -> Self {
        HttpOptions::default()
    }

    /// Listen on `addr` (port 0: any free port; [`HttpServer::addr`](crate::HttpServer::addr)
    /// tells which). An address other than loopback is refused unless
    /// [`allow_remote`](HttpOptions::allow_remote) is set.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Allow an address other hosts can reach (default: refused). The server is read-only
    /// either way: nothing it serves can change a machine.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// Serve at most `n` connections at once ([`MIN_CONNECTIONS`] to [`MAX_CONNECTIONS`]).
    ///
    /// They are shared between two budgets, so that neither dashboards nor slow clients can
    /// keep probes and scrapes out: the event streams of open dashboards (see
    /// [`max_streams`](HttpOptions::max_streams)), and requests (the rest). A new connection
    /// when every request slot is taken cuts off the oldest one still sending its request
    /// head (a client that idles or sends a byte at a time cannot hold a slot against one that
    /// sends its request at once); only when every request slot is answering a request does
    /// a connection get `503` at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
        self
    }

    /// Serve at most `n` event streams (`/api/events`, one per open dashboard) at once, from
    /// 1 to `max_connections - 1` (default: half of
    /// [`max_connections`](HttpOptions::max_connections)); more get `503`. The other slots are
    /// kept for requests: `/metrics`, `/livez` and `/readyz` are answered however many
    /// dashboards are open.
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = Some(n);
        self
    }

    /// The budgets of event streams and of requests (together `max_connections`, each at
    /// least 1).
    pub(crate) fn budgets(&self) -> (usize, usize) {
        let total = self.max_connections.max(MIN_CONNECTIONS);
        let streams = self.max_streams.unwrap_or(total / 2).clamp(1, total - 1);
        (streams, total - streams)
    }

    /// Read request heads of at most `bytes` (1 KiB to [`MAX_HEADER_BYTES`]); longer ones
    /// get `431`.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.clamp(1024, MAX_HEADER_BYTES);
        self
    }

    /// A client must send its whole request head within this time (10 ms to 5 minutes), or
    /// gets `408`.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout.clamp(Duration::from_millis(10), Duration::from_secs(300));
        self
    }

    /// A write blocked this long on a slow client ends its connection (10 ms to 5 minutes).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.clamp(Duration::from_millis(10), Duration::from_secs(300));
        self
    }

    /// Liveness fails when a datum has been in flight this long, or when data wait and none
    /// finished for this long (1 ms to a day; default [`DEFAULT_STALL_AFTER`]).
    pub fn stall_after(mut self, after: Duration) -> Self {
        self.stall_after = after.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        self
    }

    /// How often the dashboard's event stream sends a snapshot (50 ms to a minute).
    pub fn push_interval(mut self, interval: Duration) -> Self {
        self.push_interval = interval.clamp(Duration::from_millis(50), Duration::from_secs(60));
        self
    }

    /// How often the server's history (what the dashboard's charts draw, `/api/history/…`)
    /// takes a snapshot (50 ms to a minute; default [`DEFAULT_HISTORY_INTERVAL`]). It keeps
    /// 600 snapshots at this interval, then 720 at ten times it, then 1 440 at sixty times
    /// it: at 1 s, 10 minutes, 2 hours and 24 hours, in about 2.4 MiB for a machine of three
    /// stages.
    pub fn history_interval(mut self, interval: Duration) -> Self {
        self.history_interval = interval.clamp(Duration::from_millis(50), Duration::from_secs(60));
        self
    }

    /// The address to listen on.
    pub fn bind_addr(&self) -> SocketAddr {
        self.addr
    }
}
