//! Taking a machine's status: one consistent snapshot of its life, counts, statistics,
//! queue, source, sink and errors, with what its plugins add.

use std::time::{Duration, Instant};

use crate::io::SourceState;
use crate::machine::shared::Shared;
use crate::machine::sourcing;
use crate::machine::supervisor::Guarded;
use crate::observe::stage_status::StageStatus;
use crate::observe::status::{QueueStatus, Rates, SinkReport, SourceReport};
use crate::{Datum, Status};

impl<T: Datum> Shared<T> {
    /// A consistent snapshot. Reads atomics and takes only locks the hot path does not hold
    /// (the life lock, the wiring's read lock, the error book): processing never waits for it.
    pub(crate) fn status(&self) -> Status {
        let sup = &self.sup;
        let life = sup.life.view();
        let (running, started, done_at_start) = (life.running, life.started, life.done_at_start);
        let counts = sup.counts();
        let now = Instant::now();
        let until = if running {
            now
        } else {
            life.stopped.unwrap_or(now)
        };
        let uptime = started.map_or(Duration::ZERO, |(at, _)| {
            until.saturating_duration_since(at)
        });
        let done = counts.processed + counts.failed;
        let overall = if uptime.is_zero() {
            0.0
        } else {
            done.saturating_sub(done_at_start) as f64 / uptime.as_secs_f64()
        };
        let (recent, window) = {
            let rates = sup.rates.lock();
            (rates.rate(until, done), rates.window())
        };
        let (current, last_oid) = sup.stats.activity();
        let stages = self.stage_statuses();
        let source = match sourcing::shown(self.source_status.state(), &life.state) {
            SourceState::None => None,
            state => Some(SourceReport {
                state,
                produced: self
                    .source_status
                    .produced
                    .load(std::sync::atomic::Ordering::Acquire),
            }),
        };
        let errors = sup.errors.counts();
        let mut status = Status {
            name: sup.name.clone(),
            state: life.state,
            running,
            taken_at: crate::datum::Timestamp::now(),
            started_at: started.map(|(_, wall)| wall),
            uptime,
            queue: QueueStatus {
                depth: self.queue.len() as u64,
                capacity: self.queue.capacity(),
                shared: self.queue.shared_name(),
            },
            counts,
            rate: Rates {
                recent,
                overall,
                window,
            },
            current,
            workers: sup.workers,
            last_oid: last_oid.map(|o| o.to_hex()),
            stages,
            source,
            sink: SinkReport {
                description: self.sink_description.clone(),
                errors: errors.sink,
            },
            errors,
            last_error: sup.errors.last(),
            failures: self.failure_summary_with(counts.replayed),
            events: sup.events.snapshot(),
            plugins: Default::default(),
            plugin_counters: Default::default(),
            parts: Vec::new(),
        };
        self.add_plugins(&mut status);
        status
    }

    /// Every stage's statistics, named after the stage now at its slot.
    fn stage_statuses(&self) -> Vec<StageStatus> {
        let wiring = self.current_wiring().1;
        self.sup
            .stats
            .stages(wiring.slots())
            .into_iter()
            .enumerate()
            .filter_map(|(slot, (calls, errors, skipped, latency, buckets))| {
                let stage = wiring.stage_at(slot)?;
                Some(StageStatus {
                    slot,
                    name: stage.name().to_owned(),
                    calls,
                    errors,
                    skipped,
                    reads: stage.args().iter().map(|a| a.key.graph_key()).collect(),
                    latency,
                    buckets,
                    retries: self.retry_stats.of(slot),
                })
            })
            .collect()
    }

    /// What each plugin adds to `status`; a plugin that panics adds nothing.
    fn add_plugins(&self, status: &mut Status) {
        let sup = &self.sup;
        for plugin in &sup.plugins {
            let name = plugin.name();
            let added = sup.guard(
                Guarded::Plugin {
                    name,
                    call: "fields",
                },
                || {
                    let fields = plugin.fields(status);
                    let part = plugin.part(status, &fields);
                    (fields, part)
                },
            );
            if let Some((fields, part)) = added {
                if !fields.is_null() {
                    let counters = plugin.counters();
                    if !counters.is_empty() {
                        let counters = counters.iter().map(|&c| c.to_owned()).collect();
                        status.plugin_counters.insert(name.to_owned(), counters);
                    }
                    status.plugins.insert(plugin.name().to_owned(), fields);
                }
                status.parts.extend(part);
            }
        }
    }
}
