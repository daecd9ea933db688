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

    /// `timbr_plugin_value`: each numeric field a status plugin adds.
    pub(super) fn plugins(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let plugins = self
            .with_status()
            .flat_map(|(s, l)| {
                s.plugins.iter().flat_map(move |(plugin, fields)| {
                    let l = l.clone();
                    fields
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(move |(field, v)| {
                            let x = v.as_f64().filter(|x| x.is_finite())?;
                            Some((
                                with(
                                    l.clone(),
                                    &[("plugin", plugin.clone()), ("field", field.clone())],
                                ),
                                Value::Gauge(x),
                            ))
                        })
                })
            })
            .collect();
        family(
            e,
            "timbr_plugin_value",
            "The numeric fields status plugins add (progress: done, total, percent, eta…).",
            None,
            plugins,
        )
    }
}
