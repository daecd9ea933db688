//! The per-stage families: calls, errors, skips and the sampled latency histogram.

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::{family, stage_labels, Labels, Snapshot, Value};

impl Snapshot {
    /// `timbr_stage_calls_total`, `…_errors_total`, `…_skipped_total`, the retry counters,
    /// `timbr_stage_sampled_latency_seconds`.
    pub(super) fn stages(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let per_stage =
            |get: fn(&timbr_core::observe::StageStatus) -> u64| -> Vec<(Labels, Value)> {
                self.with_status()
                    .flat_map(|(s, l)| {
                        s.stages
                            .iter()
                            .map(move |st| (stage_labels(&l, st), Value::Counter(get(st))))
                    })
                    .collect()
            };
        family(
            e,
            "timbr_stage_calls",
            "How often each stage ran (errors included).",
            None,
            per_stage(|s| s.calls),
        )?;
        family(
            e,
            "timbr_stage_errors",
            "How often each stage failed (returned an error or panicked).",
            None,
            per_stage(|s| s.errors),
        )?;
        family(
            e,
            "timbr_stage_skipped",
            "How often each stage did not run because something it reads had failed.",
            None,
            per_stage(|s| s.skipped),
        )?;
        family(
            e,
            "timbr_stage_retried",
            "Retries each stage's retry policy scheduled (a datum failed with a transient error and was set aside for another attempt).",
            None,
            per_stage(|s| s.retries.retried),
        )?;
        family(
            e,
            "timbr_stage_recovered",
            "Data for which each stage succeeded after at least one retry.",
            None,
            per_stage(|s| s.retries.recovered),
        )?;
        family(
            e,
            "timbr_stage_retries_exhausted",
            "Data each stage gave up on after its last attempt (the error was still transient).",
            None,
            per_stage(|s| s.retries.exhausted),
        )?;

        let mut rows = Vec::new();
        for (s, l) in self.with_status() {
            for st in &s.stages {
                rows.push((stage_labels(&l, st), st));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut metric = e.encode_descriptor(
            "timbr_stage_sampled_latency",
            "How long each stage takes, over the timed calls only (Timing::Adaptive, the default, times one datum in 64): _count is the number of timed calls, not of calls, so rate() of it is not calls/s (that is timbr_stage_calls_total).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (labels, st) in &rows {
            // The encoder wants each bucket's own count; the status has them cumulative.
            let mut buckets = Vec::with_capacity(st.buckets.counts.len() + 1);
            let mut below = 0;
            for b in &st.buckets.counts {
                buckets.push((b.le.as_secs_f64(), b.count.saturating_sub(below)));
                below = b.count;
            }
            let samples = st.latency.samples.max(below);
            buckets.push((f64::INFINITY, samples - below));
            metric
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(
                    st.buckets.sum.as_secs_f64(),
                    samples,
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }
}
