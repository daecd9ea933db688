//! The families about what went wrong or was said: errors by kind, handler events, and the
//! numbers status plugins add.

use prometheus_client::encoding::DescriptorEncoder;

use super::{family, with, Snapshot, Value};

type Fmt = Result<(), std::fmt::Error>;

impl Snapshot {
    /// `timbr_errors_total` by kind, `timbr_events_total` by kind.
    pub(super) fn errors(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let errors = self
            .with_status()
            .flat_map(|(s, l)| {
                let c = s.errors;
                [
                    ("stage", c.stage),
                    ("serialization", c.serialization),
                    ("sink", c.sink),
                    ("source", c.source),
                    ("handler", c.handler),
                ]
                .map(|(kind, n)| {
                    (
                        with(l.clone(), &[("kind", kind.to_owned())]),
                        Value::Counter(n),
                    )
                })
            })
            .collect();
        family(e, "timbr_errors", "Errors by kind: stage failures, values that could not be serialized, records the sink refused, source failures, handler panics.", None, errors)?;
        let events = self
            .with_status()
            .flat_map(|(s, l)| {
                s.events.iter().map(move |(kind, n)| {
                    (
                        with(l.clone(), &[("kind", kind.clone())]),
                        Value::Counter(*n),
                    )
                })
            })
            .collect();
        family(
            e,
            "timbr_events",
            "Events handed to the machine's handler, by kind.",
            None,
            events,
        )
    }

    /// The failure store: `timbr_failures_stored`, `timbr_failures_capacity`,
    /// `timbr_failures_dropped_total`, `timbr_failures_replayed_total`.
    pub(super) fn failures(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        type Of = fn(&timbr_core::Status) -> Value;
        let families: [(&str, &str, Of); 4] = [
            (
                "timbr_failures_stored",
                "Data that failed for good, kept in the failure store now (to be listed or replayed).",
                |s| Value::Gauge(s.failures.stored as f64),
            ),
            (
                "timbr_failures_capacity",
                "The most failures the store keeps.",
                |s| Value::Gauge(s.failures.capacity as f64),
            ),
            (
                "timbr_failures_dropped",
                "Failures the store dropped to make room for newer ones (they cannot be replayed).",
                |s| Value::Counter(s.failures.dropped),
            ),
            (
                "timbr_failures_replayed",
                "Failures taken out of the store and run again.",
                |s| Value::Counter(s.failures.replayed),
            ),
        ];
        for (name, help, get) in families {
            let rows = self.with_status().map(|(s, l)| (l, get(s))).collect();
            family(e, name, help, None, rows)?;
        }
        Ok(())
    }

    /// `timbr_plugin_counter_total` (the fields a plugin names as counters, whole numbers)
    /// and `timbr_plugin_gauge` (its other numeric fields).
    pub(super) fn plugins(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let (mut counters, mut gauges) = (Vec::new(), Vec::new());
        for (s, l) in self.with_status() {
            for (plugin, fields) in &s.plugins {
                let named = s.plugin_counters.get(plugin);
                for (field, v) in fields.as_object().into_iter().flatten() {
                    let labels = || {
                        with(
                            l.clone(),
                            &[("plugin", plugin.clone()), ("field", field.clone())],
                        )
                    };
                    if named.is_some_and(|n| n.contains(field)) {
                        if let Some(n) = v.as_u64() {
                            counters.push((labels(), Value::Counter(n)));
                        }
                    } else if let Some(x) = v.as_f64().filter(|x| x.is_finite()) {
                        gauges.push((labels(), Value::Gauge(x)));
                    }
                }
            }
        }
        family(
            e,
            "timbr_plugin_counter",
            "The numeric fields status plugins add that only grow (zmq: sent, unrouted…; fleet: beats…).",
            None,
            counters,
        )?;
        family(
            e,
            "timbr_plugin_gauge",
            "The other numeric fields status plugins add (progress: done, total, percent, eta…; zmq: connections…).",
            None,
            gauges,
        )
    }
}
