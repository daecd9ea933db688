//! `timbr-watch http`: machines' dashboard, metrics and health over HTTP — the status
//! endpoints given, or those a fleet's Redis registry lists, followed as it changes; with a
//! registry, the page also shows the registry's view (every machine it lists, producers
//! included, the stream as Redis sees it, and the balance).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use timbr_http::{FleetWatch, HttpOptions, HttpServer};
use timbr_redis::FleetMachine;

/// How often the registry is read again: machines started since join the page.
const REFRESH: Duration = Duration::from_secs(2);

/// Serves the machines at `endpoints` until the process is killed.
pub(crate) fn serve(options: HttpOptions, endpoints: &[String]) -> anyhow::Result<Infallible> {
    let watch = FleetWatch::new(endpoints.to_vec())?;
    let server = HttpServer::start(watch.fleet(), options)?;
    eprintln!(
        "timbr-watch: dashboard on {} (metrics: {}metrics)",
        server.url(),
        server.url()
    );
    // The server's threads do the work; this one only keeps them (and `watch`) alive.
    loop {
        std::thread::park();
    }
}

/// Serves every machine of the fleet on `stream` that announces a status endpoint, and the
/// registry's view of all of them, reading the registry again every [`REFRESH`], until the
/// process is killed.
pub(crate) fn serve_fleet(
    options: HttpOptions,
    url: &str,
    stream: &str,
    group: &str,
) -> anyhow::Result<Infallible> {
    let redis = timbr_redis::RedisOptions::new(url, stream).group(group);
    let mut registry = timbr_redis::Fleet::connect(redis)?;
    let watch = FleetWatch::start(timbr_http::FleetFeed::default())?;
    let mut members = Members::default();
    // The first look must work: a wrong stream or URL is said now, not every 2 s.
    members.refresh(&mut registry, &watch)?;
    let server = HttpServer::start(watch.fleet(), options)?;
    eprintln!(
        "timbr-watch: fleet `{stream}` (group `{group}`): dashboard on {} (metrics: \
         {}metrics), following the machines its Redis registry lists with a status endpoint \
         (read every {}s)",
        server.url(),
        server.url(),
        REFRESH.as_secs()
    );
    let mut failing = false;
    loop {
        std::thread::sleep(REFRESH);
        // Redis away: the page keeps what it follows (each machine's own status goes on).
        match members.refresh(&mut registry, &watch) {
            Ok(()) if failing => {
                failing = false;
                eprintln!("timbr-watch: the fleet's registry is readable again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                eprintln!(
                    "timbr-watch: {}; following the machines known so far",
                    timbr_cli::chain(e.as_ref())
                );
            }
            Err(_) => {}
        }
    }
}

/// What the registry said last: names already reported as having no status endpoint.
/// (They are on the page all the same, in the registry's table, with what they announce.)
#[derive(Default)]
struct Members {
    unserved: BTreeSet<String>,
}

impl Members {
    /// Reads the registry, hands its view to the page, and follows exactly the status
    /// endpoints it lists, saying on stderr who joins, who leaves, and who has no status
    /// of its own to show.
    fn refresh(
        &mut self,
        registry: &mut timbr_redis::Fleet,
        watch: &FleetWatch,
    ) -> anyhow::Result<()> {
        let view = registry.view()?;
        // A FleetView is plain data: serializing it does not fail.
        if let Ok(json) = serde_json::to_value(&view) {
            watch.fleet().set_registry(json);
        }
        let machines = view.machines;
        let endpoint = |m: &FleetMachine| m.machine.status_endpoint.clone();
        let membership = watch.follow(machines.iter().filter_map(endpoint))?;
        let name_of = |e: &str| {
            machines
                .iter()
                .find(|m| m.machine.status_endpoint.as_deref() == Some(e))
                .map(|m| format!("`{}` ({})", m.machine.name, m.machine.role))
                .unwrap_or_default()
        };
        for e in &membership.joined {
            eprintln!("timbr-watch: following {} at {e}", name_of(e));
        }
        for e in &membership.left {
            eprintln!("timbr-watch: no longer following {e}: the registry has it no more");
        }
        for m in machines
            .iter()
            .filter(|m| m.machine.status_endpoint.is_none())
        {
            if self.unserved.insert(m.machine.name.clone()) {
                eprintln!(
                    "timbr-watch: `{}` ({}) announces no status endpoint: on the page with \
                     what it announces in the registry only",
                    m.machine.name, m.machine.role
                );
            }
        }
        Ok(())
    }
}
