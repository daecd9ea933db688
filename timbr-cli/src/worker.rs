//! The one status line of a fleet's worker that `timbr-fleet work` and the tweets example
//! print: its machine's counts with the shared queue as its Redis plugin saw it last.

use timbr_core::observe::human_count;
use timbr_core::Status;

/// `name: state: N processed, M failed (R/s) | stream S | pending P | dead D`, and what
/// is wrong with Redis if anything is (it refuses, with its words, or is unreachable).
/// Fields the `redis` plugin has not reported yet read 0.
pub fn worker_line(name: &str, status: &Status) -> String {
    let none = serde_json::Value::Null;
    let redis = status.plugins.get("redis").unwrap_or(&none);
    let group = &redis["group_info"];
    let n = |v: &serde_json::Value| human_count(v.as_u64().unwrap_or(0));
    format!(
        "{name}: {}: {:>9} processed, {:>7} failed ({}/s) | stream {} | pending {} | dead {}{}",
        status.state,
        human_count(status.counts.processed),
        human_count(status.counts.failed),
        human_count(status.rate.recent as u64),
        n(&group["stream_length"]),
        n(&group["pending"]),
        n(&group["dead_letters"]),
        match (redis["refused"].as_str(), redis["connected"] == false) {
            // Redis answers but refuses (out of memory, a key of the wrong type): its words.
            (Some(refused), _) => format!(" | REDIS REFUSES: {refused}"),
            (None, true) => " | REDIS UNREACHABLE".to_owned(),
            (None, false) => String::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::worker_line;
    use timbr_core::{Machine, Stage};

    #[test]
    fn a_status_without_a_redis_plugin_reads_zeros_and_says_nothing_is_wrong() {
        let machine = Machine::<u64>::builder()
            .stage(Stage::new(0, "id", ["input"], |x: &u64| *x).unwrap())
            .build()
            .unwrap();
        let line = worker_line("w1", &machine.status());
        assert!(line.starts_with("w1: idle:"), "{line}");
        assert!(line.ends_with("| stream 0 | pending 0 | dead 0"), "{line}");
    }
}
