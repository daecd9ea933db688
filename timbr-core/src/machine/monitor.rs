//! The monitor thread of a running machine: it keeps the recent rate, notices idleness,
//! delivers what the queue reported about itself and ticks the status plugins, once per tick.

use std::time::Instant;

use crate::machine::shared::Shared;
use crate::machine::thread_role::mark_machine_thread;
use crate::{Datum, Event, MachineState};

impl<T: Datum> Shared<T> {
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
            if !sup.life.tick(sup.tick) {
                return;
            }
            sup.stats.refresh_clock();
            let now = Instant::now();
            let counts = sup.counts();
            let done = counts.processed + counts.failed;
            sup.rates.lock().push(now, done);

            let moved = (counts.accepted, done) != last;
            last = (counts.accepted, done);
            if moved || counts.queued > 0 || counts.in_flight > 0 || counts.retrying > 0 {
                active_at = now;
                idle_events = 0;
            } else if let Some(period) = sup.idle_threshold() {
                let idle_for = now.duration_since(active_at);
                if idle_for >= period.saturating_mul(idle_events.saturating_add(1))
                    && sup.life.state() == MachineState::Running
                {
                    idle_events += 1;
                    sup.emit(Event::Idle { idle_for });
                }
            }

            sup.deliver_queue_events();

            if !sup.plugins.is_empty() {
                let status = self.status();
                sup.each_plugin("tick", |p| p.tick(&status));
            }
        }
    }
}
