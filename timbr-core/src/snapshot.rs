//! Taking a machine's status, and the monitor thread that keeps the recent rate, notices
//! idleness and drives the status plugins while the machine runs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::status::{QueueStatus, Rates, SinkReport, SourceReport, StageStatus};
use crate::supervisor::mark_machine_thread;
use crate::worker::Shared;
use crate::{Event, SourceState, Status};

impl<T: serde::Serialize + Send + Sync + 'static> Shared<T> {
    /// A consistent snapshot. Reads atomics and takes only locks the hot path does not hold
    /// (the life lock, the wiring's read lock, the error book): processing never waits for it.
    pub(crate) fn status(&self) -> Status {
        let sup = &self.sup;
        let (state, running, started, stopped, done_at_start) = {
            let life = sup.life();
            (
                life.state.clone(),
                life.live() > 0,
                life.started,
                life.stopped,
                life.done_at_start,
            )
        };
        let counts = sup.counters.snapshot();
        let now = Instant::now();
        let until = if running { now } else { stopped.unwrap_or(now) };
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
        let wiring = self.current_wiring().1;
        let stages = sup
            .stats
            .stages(wiring.slots())
            .into_iter()
            .enumerate()
            .filter_map(|(slot, (calls, errors, skipped, latency))| {
                Some(StageStatus {
                    slot,
                    name: wiring.stage_name_at(slot)?.to_owned(),
                    calls,
                    errors,
                    skipped,
                    latency,
                })
            })
            .collect();
        let source = match self.source_status.state() {
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
            state,
            running,
            taken_at: crate::Timestamp::now(),
            started_at: started.map(|(_, wall)| wall),
            uptime,
            queue: QueueStatus {
                depth: self.queue.len() as u64,
                capacity: self.queue.capacity(),
            },
            counts,
            rate: Rates {
                recent,
                overall,
                window,
            },
            current,
            last_oid: last_oid.map(|o| o.to_hex()),
            stages,
            source,
            sink: SinkReport {
                description: self.sink_description.clone(),
                errors: errors.sink,
            },
            errors,
            last_error: sup.errors.last(),
            plugins: Default::default(),
            parts: Vec::new(),
        };
        for plugin in &sup.plugins {
            let added = catch_unwind(AssertUnwindSafe(|| {
                let fields = plugin.fields(&status);
                let part = plugin.part(&status, &fields);
                (fields, part)
            }));
            if let Ok((fields, part)) = added {
                if !fields.is_null() {
                    status.plugins.insert(plugin.name().to_owned(), fields);
                }
                status.parts.extend(part);
            }
        }
        status
    }

    /// The monitor thread's body: one tick at a time until the machine stops.
    pub(crate) fn monitor(&self) {
        mark_machine_thread();
        let sup = &self.sup;
        let mut last = (u64::MAX, u64::MAX);
        let mut active_at = Instant::now();
        // Idle events recur every period while the machine stays idle, so a handler waiting
        // for a longer period than the shortest one asked for still sees its moment.
        let mut idle_events = 0_u32;
        loop {
            {
                let mut life = sup.life();
                if !life.state.is_active() {
                    return;
                }
                sup.life_changed.wait_for(&mut life, sup.tick);
                if !life.state.is_active() {
                    return;
                }
            }
            sup.stats.refresh_clock();
            let now = Instant::now();
            let counts = sup.counters.snapshot();
            let done = counts.processed + counts.failed;
            sup.rates.lock().push(now, done);

            let moved = (counts.accepted, done) != last;
            last = (counts.accepted, done);
            if moved || counts.queued > 0 || counts.in_flight > 0 {
                active_at = now;
                idle_events = 0;
            } else if let Some(period) = sup.idle_threshold() {
                let idle_for = now.duration_since(active_at);
                if idle_for >= period.saturating_mul(idle_events.saturating_add(1))
                    && sup.life().state == crate::MachineState::Running
                {
                    idle_events += 1;
                    sup.emit(Event::Idle { idle_for });
                }
            }

            if !sup.plugins.is_empty() {
                let status = self.status();
                for plugin in &sup.plugins {
                    let _ = catch_unwind(AssertUnwindSafe(|| plugin.tick(&status)));
                }
            }
        }
    }
}
