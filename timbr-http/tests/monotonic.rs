//! No exported counter ever goes down, however the scrapes fall between puts: here while
//! `try_put`s are refused on a full queue, which used to make `timbr_data_accepted_total`
//! drop back between scrapes (a put in progress is counted as accepted until refused).
//! A real Prometheus's `resets()` over such a run is in `prometheus.rs`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use timbr_http::{HttpOptions, ServeHttp};

use common::{counter_samples, get, refusing_machine};

#[test]
fn counters_never_go_down_between_scrapes_while_puts_are_refused() {
    let (machine, hammer) = refusing_machine("monotonic", 2, Duration::from_millis(10));
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let mut last: HashMap<String, f64> = HashMap::new();
    let mut decreases = Vec::new();
    let scrapes = 1000;
    for scrape in 0..scrapes {
        let text = get(server.addr(), "/metrics", "").body;
        let samples = counter_samples(&text);
        assert!(
            samples
                .iter()
                .any(|(s, _)| s.starts_with("timbr_data_accepted_total{")),
            "{text}"
        );
        for (series, value) in samples {
            if let Some(&before) = last.get(&series) {
                if value < before {
                    decreases.push(format!("scrape {scrape}: {series} {before} -> {value}"));
                }
            }
            last.insert(series, value);
        }
    }
    drop(hammer);
    let rejected = machine.counts().rejected;
    assert!(rejected > 0, "no put was refused: the test tested nothing");
    assert!(
        decreases.is_empty(),
        "{} decreases in {scrapes} scrapes ({rejected} puts refused), e.g. {:?}",
        decreases.len(),
        &decreases[..decreases.len().min(5)]
    );
}
