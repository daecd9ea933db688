//! One connection to Redis that heals itself: a command that fails for want of a server is
//! retried with exponential backoff and jitter (never a spin, never a crash, never in step
//! with the rest of the fleet: see `backoff.rs`), the outage is reported in the queue's
//! health and as events, and the command goes through once the server is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisResult};

use crate::backoff::Backoff;
use crate::error::redact_url as redact;
use crate::health::Health;
use crate::RedisError;

/// How long a connection attempt, a write or a (non-blocking) reply may take.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Link {
    client: Client,
    con: Option<Connection>,
    health: Arc<Health>,
    name: &'static str,
    backoff_max: Duration,
    /// When the current outage began.
    down_since: Option<Instant>,
    /// A connection broke since [`take_broken`](Link::take_broken) was last asked: a
    /// command sent on it may have been applied with its reply lost.
    broke: bool,
}

impl Link {
    /// Connects now: a wrong URL, an unreachable server or refused credentials are errors
    /// here, at start, rather than retried for ever.
    pub(crate) fn open(
        url: &str,
        health: Arc<Health>,
        name: &'static str,
        backoff_max: Duration,
    ) -> Result<Link, RedisError> {
        let client = Client::open(url).map_err(|source| RedisError::BadUrl {
            url: redact(url),
            source,
        })?;
        let mut con = connect(&client).map_err(|source| RedisError::Connect {
            url: redact(url),
            source,
        })?;
        redis::cmd("PING")
            .query::<()>(&mut con)
            .map_err(|source| RedisError::Connect {
                url: redact(url),
                source,
            })?;
        Ok(Link {
            client,
            con: Some(con),
            health,
            name,
            backoff_max,
            down_since: None,
            broke: false,
        })
    }

    /// Another link to the same server, named `name`, reporting to the same health; it
    /// connects at its first command (a connection of its own).
    pub(crate) fn sibling(&self, name: &'static str) -> Link {
        Link {
            client: self.client.clone(),
            con: None,
            health: Arc::clone(&self.health),
            name,
            backoff_max: self.backoff_max,
            down_since: None,
            broke: false,
        }
    }

    /// Runs `op` once on the connection (reconnecting first if it was lost).
    ///
    /// A connection kept from before may have died unnoticed (its server restarted while
    /// it was idle): its failure says nothing of the server now, so `op` then runs once
    /// more, on a fresh connection. (`op` must be fit to run again, as for [`run`]; a
    /// one-attempt caller, like `try_put` or a fleet command, thus gets the server's
    /// answer rather than the dead connection's.)
    pub(crate) fn once<R>(
        &mut self,
        op: &mut impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> RedisResult<R> {
        let kept = self.con.is_some();
        match self.attempt(op) {
            Err(e) if kept && broken(&e) => self.attempt(op),
            done => done,
        }
    }

    /// Whether a connection broke since the last call: a command may have been applied
    /// with its reply lost.
    pub(crate) fn take_broken(&mut self) -> bool {
        std::mem::take(&mut self.broke)
    }

    fn attempt<R>(
        &mut self,
        op: &mut impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> RedisResult<R> {
        if self.con.is_none() {
            self.con = Some(connect(&self.client)?);
        }
        // Just set: cannot be `None`.
        let con = self.con.as_mut().expect("connected above");
        let result = op(con);
        if let Err(e) = &result {
            if broken(e) {
                self.con = None;
                self.broke = true;
            }
        }
        result
    }

    /// Runs `op` until it succeeds, waiting with backoff (and jitter) between attempts;
    /// gives up (with `None`) only when `give_up` says so, checked before every wait.
    pub(crate) fn run<R>(
        &mut self,
        give_up: &dyn Fn() -> bool,
        mut op: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Option<R> {
        let mut backoff = Backoff::new(self.backoff_max);
        loop {
            match self.once(&mut op) {
                Ok(r) => {
                    self.healed();
                    return Some(r);
                }
                Err(e) => {
                    self.failed(&e);
                    if give_up() {
                        return None;
                    }
                    std::thread::sleep(backoff.next_wait());
                }
            }
        }
    }

    /// Records a failed attempt: an outage (no server) or a refusal (the server answered
    /// with an error: its own message names the cause), each raised once per episode.
    fn failed(&mut self, e: &redis::RedisError) {
        let message = e.to_string();
        if refused(e) {
            // The server is there: what it says is the news, not "unreachable".
            let first = self.down_since.is_none();
            self.down_since.get_or_insert_with(Instant::now);
            self.health.refused(self.name, message, first);
        } else if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            self.health.disconnected(self.name, message);
        } else {
            self.health.still_failing(message);
        }
    }

    fn healed(&mut self) {
        if let Some(since) = self.down_since.take() {
            self.health.reconnected(self.name, since.elapsed());
        }
    }
}

fn connect(client: &Client) -> RedisResult<Connection> {
    let con = client.get_connection_with_timeout(IO_TIMEOUT)?;
    con.set_write_timeout(Some(IO_TIMEOUT))?;
    // Blocking reads wait at most `block` (≤ 10 s) on the server, then answer.
    con.set_read_timeout(Some(IO_TIMEOUT + Duration::from_secs(10)))?;
    Ok(con)
}

/// Whether the connection must be dropped and opened again: anything but a plain command
/// error (a command error leaves the connection usable).
fn broken(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// Whether Redis answered, refusing the command (`OOM`, `WRONGTYPE`, a script's error…),
/// rather than not answering: an error reply, not a connection's failure.
fn refused(e: &redis::RedisError) -> bool {
    !broken(e) && e.kind() != redis::ErrorKind::BusyLoadingError
}
