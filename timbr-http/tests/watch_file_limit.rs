//! A watch that the process's open-files limit cannot hold is refused at once, saying how
//! many files it needs and how to raise the limit (instead of failing socket by socket, or
//! libzmq aborting the process when it runs out). Alone in its test binary: it lowers the
//! process's limit for good.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use timbr_http::{FleetWatch, WatchError};

#[test]
fn a_watch_beyond_the_open_files_limit_is_refused_with_the_way_out() {
    let low = 512;
    let now = getrlimit(Resource::Nofile);
    assert!(now.current.is_none_or(|c| c >= low), "{now:?}");
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(low),
            maximum: Some(low),
        },
    )
    .unwrap();
    let endpoints = (0..300).map(|i| format!("ipc:///nonexistent/timbr-watch-{i}"));
    match FleetWatch::new(endpoints) {
        Err(
            e @ WatchError::FileLimit {
                endpoints,
                needed,
                limit,
            },
        ) => {
            assert_eq!((endpoints, limit), (300, low));
            assert!(needed > low);
            let message = e.to_string();
            assert!(
                message.contains(&format!("ulimit -n {needed}")),
                "{message}"
            );
        }
        Err(e) => panic!("expected FileLimit, got {e}"),
        Ok(_) => panic!("a watch of 300 endpoints started with {low} open files"),
    }
}
