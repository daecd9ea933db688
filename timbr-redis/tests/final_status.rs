//! A stopped machine's final status shows the shared queue as Redis shows it after the
//! machine's last acknowledgements, not the backlog of its last look mid-run (issue 20, item
//! 8: `tweets --role both` ended with `lag 5152 | pending 384` beside `acked 20000`).

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{Fleet, RedisOptions, RedisQueue, RedisStatus};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

#[test]
fn a_final_status_agrees_with_the_balance() {
    let server = Server::start();
    const N: u64 = 3_000;
    for round in 0..4 {
        let stream = format!("items{round}");
        let options = RedisOptions::new(server.url(), stream.as_str()).batch(64);
        let queue = RedisQueue::<Item>::connect(options.clone().consumer("w")).unwrap();
        let machine = Machine::<Item>::builder()
            .queue(queue.clone())
            .sink(queue.sink(format!("{stream}:results")))
            .plugin(RedisStatus::new(&queue))
            .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n).unwrap())
            .build()
            .unwrap();
        machine.start().unwrap();
        let producer = RedisQueue::<Item>::connect(options.clone().consumer("p")).unwrap();
        producer.put_all((0..N).map(|n| Item { n })).unwrap();
        let mut fleet = Fleet::connect(options).unwrap();
        until("every datum acknowledged", || {
            fleet.balance().unwrap().acked == N
        });
        machine.stop(StopMode::Drain);
        let status = machine.status();
        let group = &status.plugins["redis"]["group_info"];
        assert_eq!(
            (group["pending"].as_u64(), group["lag"].as_u64()),
            (Some(0), Some(0)),
            "round {round}: {status}"
        );
        let text = status.to_string();
        assert!(text.contains("lag 0 | pending 0"), "round {round}: {text}");
        assert!(
            !text.contains("| put"),
            "a worker's queue put nothing, and says nothing of it: {text}"
        );
    }
}
