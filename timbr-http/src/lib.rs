//! Operating timbr machines over HTTP: Prometheus metrics, health checks for orchestrators,
//! and a live dashboard in the browser, for one machine or a fleet.
//!
//! One small, read-only server (on loopback unless asked otherwise) serves:
//!
//! | path | what |
//! |---|---|
//! | `/` | the dashboard: plain HTML, CSS and JavaScript (no build step, nothing fetched from elsewhere), updated by server-sent events |
//! | `/metrics` | Prometheus metrics (text format 0.0.4, or OpenMetrics when asked for) |
//! | `/livez` (`/healthz`) | `200` when every machine is live, else `503` (see [`health`](crate#health)) |
//! | `/readyz` | `200` when every machine is running, else `503` |
//! | `/api/status` | the dashboard's data as JSON: each machine's status and health, totals |
//! | `/api/events` | the same, pushed as server-sent events |
//! | `/api/history/5m`, `/1h`, `/all` | the charts' data over a window: rates, queue, busy share, per-stage calls, errors and windowed p50/p99 |
//!
//! # One machine, in process
//!
//! timbr-core does not depend on this crate, so the opt-in is one call on the machine's
//! `Arc` rather than a builder method: [`serve`] (or [`ServeHttp::serve_http`]).
//!
//! ```
//! use std::sync::Arc;
//! use timbr_core::Machine;
//! use timbr_http::{HttpOptions, ServeHttp};
//!
//! let machine = Arc::new(Machine::<u64>::new());
//! machine.start()?;
//! let server = machine.serve_http(HttpOptions::new())?; // 127.0.0.1, a free port
//! println!("open {}", server.url());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A fleet
//!
//! A [`FleetFeed`] holds the latest status of several machines; [`FleetWatch`] subscribes to
//! machines publishing their status over ZeroMQ (`timbr_core::Remote`), and
//! [`HttpServer::start`] serves any [`StatusFeed`].
//!
//! # Health
//!
//! Readiness: the machine is running and its status is fresh. Liveness: it is neither
//! failed nor wedged — no datum in flight for [`HttpOptions::stall_after`], and not data
//! waiting while none finished for that long. Stopped and completed machines are live but
//! not ready, and so is a fleet member whose last status said it stopped or completed before
//! it went quiet (its process ended): its verdict's `note` says so. A member that went quiet
//! without saying it ended is not live.
//!
//! The fleet's totals (`/api/status`, the dashboard) add what is true now: the depth of a
//! queue several members share (a Redis stream) counts once, and only running members with
//! a fresh status add to the rates.
//!
//! # The dashboard
//!
//! One page: the totals; charts over 5 minutes, an hour or since the start (data/s
//! stacked as processed, failed, dropped; each stage's error rate; queue depth against
//! capacity; each stage's p50 and p99 per interval; the workers' busy share), with axes and
//! units, drawn from the server's history (below); the stage graph (which stage reads which
//! key, each node with its calls/s, errors and p99, coloured by health); the newest data
//! that failed for good on every machine, filterable by stage, and the datum a `Debugger`
//! kept ([`StatusFeed::kept`]); a fleet registry's view when the feed has one
//! ([`StatusFeed::registry`]: every machine it lists, producers included, the stream and the
//! balance); and each machine's table. When the server stops (its process ends), its last
//! push marks the states final and the page shows them ("ended: completed") rather than
//! reconnecting to a server that is gone.
//!
//! # History
//!
//! The server keeps its own history, so a dashboard opened late, reloaded, or in a second
//! tab draws the past too: a snapshot every [`HttpOptions::history_interval`] (1 s), kept at
//! that interval for 10 minutes, every 10 s for 2 hours and every minute for 24 hours, in a
//! bounded ring (2 760 snapshots, about 2.4 MiB for a machine of three stages, whatever the
//! run's length). Counters stay cumulative in it, so the rates and the latency percentiles a
//! chart shows are those *between* two snapshots, not since the start.
//!
//! # Bounds
//!
//! At most [`HttpOptions::max_connections`] connections at once, on two budgets: event
//! streams (open dashboards, [`HttpOptions::max_streams`], half by default) and requests (the
//! rest), so that probes and scrapes are answered however many dashboards are open. When
//! every request slot is taken, a new connection cuts off the oldest one still sending its
//! request head (slow clients cannot hold the slots); only when every request slot is
//! answering does it get `503`. Request heads of at most [`HttpOptions::max_header_bytes`]
//! (`431`), sent within [`HttpOptions::read_timeout`] (`408`); one request per connection.
//! A panic in a [`StatusFeed`] is caught and counted ([`HttpServer::panics`]); the request
//! gets `500` and the connection's slot is released. Unknown paths get
//! `404`, other methods than `GET` and `HEAD` get `405`. Serving reads statuses only:
//! it never blocks a machine's data path.

mod board;
mod dashboard;
mod feed;
mod health;
mod history;
mod kept;
pub mod metrics;
mod options;
mod request;
mod response;
mod routes;
mod server;
mod slots;
#[cfg(feature = "zmq")]
mod watch;

pub use crate::feed::{FleetFeed, MachineFeed, Observed, StatusFeed, DEFAULT_STALE_AFTER};
pub use crate::health::Verdict;
pub use crate::kept::KeptDatum;
pub use crate::options::{
    HttpOptions, DEFAULT_HISTORY_INTERVAL, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_PUSH_INTERVAL, DEFAULT_READ_TIMEOUT, DEFAULT_STALL_AFTER, DEFAULT_WRITE_TIMEOUT,
    MAX_CONNECTIONS, MAX_HEADER_BYTES, MIN_CONNECTIONS,
};
pub use crate::server::{serve, HttpServer, ServeError, ServeHttp};
#[cfg(feature = "zmq")]
pub use crate::watch::{FleetWatch, Membership, WatchError, MAX_ENDPOINTS};
