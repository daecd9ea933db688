//! One producer and workers as separate programs: every tweet processed once, the watch and the final view agree, a killed producer continues.

use super::*;

// One story from start to end (~115 lines, over the ~100 the project allows without a
// reason): each step needs the fleet the steps before it built, so apart they would repeat it.
#[test]
fn one_producer_and_two_workers_process_every_tweet_and_the_watch_sees_them_all() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let worker = |name: &str| worker(&dir, &url, name);
    let mut workers = [("w1", worker("w1")), ("w2", worker("w2"))];
    // The workers announce themselves once they run (after loading VADER's lexicons).
    until("the watch to show both workers running", || {
        let v = view(&url);
        v.machines.len() == 2 && v.machines.iter().all(|m| m.machine.state == "running")
    });
    let count = N.to_string();
    let mut producer = spawn(
        &dir,
        "producer",
        &[
            "--redis", &url, "--role", "produce", "--name", "p", "--count", &count, "--rate",
            "1000", "--json",
        ],
    );

    // While it runs: every machine, live, with its role.
    until("the watch to show the three machines running", || {
        let v = view(&url);
        let roles: Vec<(&str, &str, &str)> = v
            .machines
            .iter()
            .map(|m| {
                let a = &m.machine;
                (a.name.as_str(), a.role.as_str(), a.state.as_str())
            })
            .collect();
        roles
            == [
                ("p", "producer", "producing"),
                ("w1", "worker", "running"),
                ("w2", "worker", "running"),
            ]
            && v.totals.live == 3
    });
    let text = Command::new(timbr_watch())
        .args(["fleet", "--redis", &url, "--stream", "tweets", "--once"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("fleet `tweets` (group `timbr`): 3 machines"),
        "{text}"
    );
    assert!(text.contains("\nredis: stream "), "{text}");

    let status = wait(&mut producer, "the producer");
    assert!(status.success(), "{}", read(&dir, "producer.err"));
    assert_eq!(
        read(&dir, "producer.out").trim(),
        format!("{{\"produced\":{N}}}")
    );

    // The fleet deals with every tweet; the watch's totals follow (each machine announces
    // itself once a second).
    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    until("every tweet to be acknowledged", || {
        let b = fleet.balance().unwrap();
        b.acked == N && b.pending == 0 && b.unread == 0
    });
    until("the watch's totals to count every tweet", || {
        let v = view(&url);
        v.totals.processed + v.totals.failed == N
    });
    let v = view(&url);
    assert!(v.balance.is_balanced(), "{:?}", v.balance);
    // Every 31st tweet failed for good: it sits in the failure stream, a datum to deal with
    // again, counted produced once more (see timbr_redis::Balance).
    assert_eq!(
        (v.balance.produced, v.balance.failed, v.balance.dead),
        (N + N / 31, N / 31, 0)
    );
    assert_eq!(v.queue.pending, 0);
    assert_eq!(v.totals.put, N, "the producer's puts");
    assert_eq!(v.totals.failed, N / 31, "every 31st tweet fails, once");
    let p = &v.machines[0];
    assert_eq!((p.machine.state.as_str(), p.machine.put), ("completed", N));
    assert!(v.machines[1..]
        .iter()
        .all(|w| w.machine.status_endpoint.is_some()));

    // SIGTERM stops a worker the way `stop` does; its final status balances.
    let mut done = 0;
    for (name, child) in &mut workers {
        let pid = Pid::from_raw(child.id() as i32).unwrap();
        kill_process(pid, Signal::TERM).unwrap();
        let status = wait(child, name);
        let err = read(&dir, &format!("{name}.err"));
        assert_eq!(status.code(), Some(128 + 15), "{err}");
        assert!(
            err.contains(&format!("{name}: running:")),
            "status lines as it runs: {err}"
        );
        let out = read(&dir, &format!("{name}.out"));
        let status: Status = serde_json::from_str(out.trim()).expect("the final status");
        assert_eq!(status.state, MachineState::Stopped);
        assert!(status.counts.is_balanced(), "{:?}", status.counts);
        done += status.counts.processed + status.counts.failed;
    }
    assert_eq!(done, N, "each tweet processed once: no worker was killed");

    let results = fleet.results("tweets:results").unwrap();
    assert_eq!(
        (results.records, results.distinct),
        (N, N),
        "a record per tweet"
    );
    let v = view(&url);
    assert!(v.machines.iter().all(|m| !m.is_live()), "all ended: {v:?}");
}

/// `both` completes by itself, and its last words agree with each other: the final status
/// shows the queue as Redis shows it after the last acknowledgements, and the fleet's
/// balance is printed with what its producer put (issue 20, item 8).
#[test]
fn both_completes_with_a_final_view_that_agrees_with_its_balance() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let count = N.to_string();
    let mut both = spawn(
        &dir,
        "both",
        &[
            "--redis", &url, "--role", "both", "--name", "b", "--count", &count, "--json",
        ],
    );
    let status = wait(&mut both, "tweets --role both");
    let err = read(&dir, "both.err");
    assert!(status.success(), "{err}");
    let status: Status = serde_json::from_str(read(&dir, "both.out").trim()).expect("the status");
    assert_eq!(status.state, MachineState::Completed, "{err}");
    let group = &status.plugins["redis"]["group_info"];
    assert_eq!(
        (group["pending"].as_u64(), group["lag"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );
    assert!(
        err.contains(&format!(
            "producer: put 3,000 tweets | fleet: produced {} = acked {N} + pending 0 + unread 0 + dead 0 + failed {}: balanced",
            N + N / 31,
            N / 31
        )),
        "{err}"
    );
}

/// A producer killed (SIGKILL) mid-run and started again under its name continues where it
/// stopped: every tweet is on the stream once (issue 20, item 19).
#[test]
fn a_producer_killed_and_started_again_puts_every_tweet_once() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let count = N.to_string();
    let args = [
        "--redis", &url, "--role", "produce", "--name", "p", "--count", &count, "--rate", "3000",
        "--json",
    ];
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    // No worker: every entry stays on the stream, to be counted.
    let mut on_stream = || -> u64 { redis::cmd("XLEN").arg("tweets").query(&mut con).unwrap() };
    let mut producer = spawn(&dir, "p1", &args);
    until("the producer to be a third of the way", || {
        on_stream() >= N / 3
    });
    producer.kill().unwrap(); // SIGKILL
    producer.wait().unwrap();
    let mut producer = spawn(&dir, "p2", &args);
    assert!(wait(&mut producer, "the second producer").success());
    assert!(
        read(&dir, "p2.err").contains("were put by an earlier run of `p`"),
        "{}",
        read(&dir, "p2.err")
    );
    let put: serde_json::Value = serde_json::from_str(read(&dir, "p2.out").trim()).unwrap();
    assert!(put["produced"].as_u64().unwrap() < N, "{put}");
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("tweets")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let mut seqs: Vec<u64> = entries
        .ids
        .iter()
        .map(|e| {
            let d: String = redis::from_redis_value(&e.map["d"]).unwrap();
            serde_json::from_str::<serde_json::Value>(&d).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=N).collect();
    assert_eq!(seqs.len() as u64, N, "every tweet once, none twice");
    assert_eq!(seqs, expected);
}
