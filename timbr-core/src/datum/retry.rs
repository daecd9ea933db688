//! A stage's retry policy: how many attempts, how long to wait between them, and which
//! errors are worth another attempt. Pure data: the machine (`machine/retrying.rs`) applies
//! it, this file only answers "transient?" and "how long?".

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use timbr_sched::TaskError;

/// The longest a backoff ever waits, whatever the policy says: a retry is a datum waiting
/// aside, and a drain waits for it.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How a stage's failures are retried.
///
/// A datum whose stage fails with a *transient* error (see [`transient_if`](Self::transient_if))
/// is not finished: it waits aside for the [`Backoff`] (its worker goes on with other data),
/// then runs again **from the failed stage on** — the stages before it keep their values and
/// do not run again. After [`attempts`](Self::attempts) runs of the stage, or on an error that
/// is not transient, the datum has failed for good: its record says so and the failure store
/// keeps it for a replay.
///
/// Set it on a stage ([`Stage::retry`](crate::Stage::retry), `#[stage(n, retry = …)]`) or on
/// the builder ([`MachineBuilder::retry`](crate::MachineBuilder::retry), which overrides the
/// stage's own).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timbr_core::{Backoff, RetryPolicy, Transient};
///
/// let policy = RetryPolicy::new(3)
///     .backoff(Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)).jitter(0.5));
/// assert_eq!(policy.attempts(), 3);
///
/// // By default an error is transient when the stage says so, by returning a `Transient`.
/// let down = timbr_core::sched::TaskError::new(Transient::new("service down"));
/// let bad = timbr_core::sched::TaskError::msg("bad input");
/// assert!(policy.is_transient(&down));
/// assert!(!policy.is_transient(&bad));
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
    transient: Transience,
}

/// Which errors a [`RetryPolicy`] retries.
#[derive(Clone)]
enum Transience {
    /// Errors whose chain holds a [`Transient`].
    Marked,
    /// Every error but a panic.
    Errors,
    /// What the predicate says.
    When(Arc<dyn Fn(&TaskError) -> bool + Send + Sync>),
}

impl RetryPolicy {
    /// At most `attempts` runs of the stage for one datum (the first included: `1` never
    /// retries; `0` counts as `1`), a fixed 100 ms backoff, and transient errors only.
    pub fn new(attempts: u32) -> Self {
        RetryPolicy {
            attempts: attempts.max(1),
            backoff: Backoff::fixed(Duration::from_millis(100)),
            transient: Transience::Marked,
        }
    }

    /// The same policy with this backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Retries the errors `predicate` says are transient (panics included, if it says so).
    pub fn transient_if(
        mut self,
        predicate: impl Fn(&TaskError) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.transient = Transience::When(Arc::new(predicate));
        self
    }

    /// Retries every error a stage returns (never a panic: a panic is a bug, not an outage).
    pub fn any_error(mut self) -> Self {
        self.transient = Transience::Errors;
        self
    }

    /// The most runs of the stage for one datum.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long to wait between runs.
    pub fn backoff_of(&self) -> &Backoff {
        &self.backoff
    }

    /// Whether `error` is worth another attempt under this policy. By default: the error, or
    /// one in its [`source`](StdError::source) chain, is a [`Transient`].
    pub fn is_transient(&self, error: &TaskError) -> bool {
        match &self.transient {
            Transience::Marked => is_marked_transient(error),
            Transience::Errors => !error.is_panic(),
            Transience::When(predicate) => {
                // A panicking predicate decides "not transient": the failure stays a failure.
                crate::unwind::catch(|| predicate(error)).unwrap_or(false)
            }
        }
    }
}

impl Default for RetryPolicy {
    /// Three attempts, exponential backoff from 100 ms up to 10 s with half jitter,
    /// [`Transient`] errors only.
    fn default() -> Self {
        RetryPolicy::new(3).backoff(
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10)).jitter(0.5),
        )
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transient = match self.transient {
            Transience::Marked => "marked `Transient`",
            Transience::Errors => "any error",
            Transience::When(_) => "a predicate",
        };
        f.debug_struct("RetryPolicy")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("transient", &transient)
            .finish()
    }
}

/// How long a datum waits before its next attempt: fixed or exponential, bounded by a
/// maximum (and never above [`MAX_BACKOFF`]), with optional jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    first: Duration,
    factor: u32,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// The same wait before every retry.
    pub fn fixed(wait: Duration) -> Self {
        Backoff {
            first: wait,
            factor: 1,
            max: wait,
            jitter: 0.0,
        }
    }

    /// `first` before the first retry, doubling before each next one, never above `max`.
    pub fn exponential(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            factor: 2,
            max: max.max(first),
            jitter: 0.0,
        }
    }

    /// The same backoff multiplying by `factor` (at least 1) rather than 2.
    pub fn factor(mut self, factor: u32) -> Self {
        self.factor = factor.max(1);
        self
    }

    /// The same backoff waiting up to `fraction` (0 to 1) less, at random, so that data that
    /// failed together do not all come back at once. `0.5`: between half and all of the wait.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The wait before retry number `retry` (1 for the first), jittered by `seed` (any
    /// number: the machine passes a random one; equal seeds give equal waits).
    pub fn delay(&self, retry: u32, seed: u64) -> Duration {
        let steps = retry.saturating_sub(1);
        let grown = u64::from(self.factor)
            .checked_pow(steps)
            .and_then(|m| u32::try_from(m).ok())
            .and_then(|m| self.first.checked_mul(m))
            .unwrap_or(self.max);
        let wait = grown.min(self.max).min(MAX_BACKOFF);
        if self.jitter == 0.0 {
            return wait;
        }
        // A uniform number in [0, 1) from the seed (splitmix64's finaliser).
        let unit = (mix(seed) >> 11) as f64 / (1_u64 << 53) as f64;
        wait.mul_f64(1.0 - self.jitter * unit)
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An error a stage returns to say "try me again later": a service that is down, a timeout.
/// The default [`RetryPolicy`] retries exactly these (found anywhere in the error's
/// [`source`](StdError::source) chain); its text is the wrapped error's.
///
/// # Examples
///
/// ```
/// use timbr_core::{Stage, Transient};
///
/// let fetch = Stage::try_new(0, "fetch", ["input"], |url: &String| {
///     if url.is_empty() { Err(Transient::new("the service is down")) } else { Ok(url.len()) }
/// })?;
/// # Ok::<(), timbr_core::BuildError>(())
/// ```
#[derive(Debug)]
pub struct Transient(Box<dyn StdError + Send + Sync>);

impl Transient {
    /// Marks `error` as transient.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Transient(error.into())
    }

    /// The wrapped error.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync> {
        self.0
    }
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for Transient {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// Whether `error` or an error in its chain is a [`Transient`].
fn is_marked_transient(error: &TaskError) -> bool {
    let Some(inner) = error.inner() else {
        return false;
    };
    let mut at: Option<&(dyn StdError + 'static)> = Some(inner);
    // Bounded: a chain that loops on itself is not followed for ever.
    for _ in 0..64 {
        let Some(e) = at else { return false };
        if e.is::<Transient>() {
            return true;
        }
        at = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoffs_grow_and_stay_bounded() {
        let ms = Duration::from_millis;
        let exp = Backoff::exponential(ms(10), ms(50));
        let waits: Vec<_> = (1..=5).map(|r| exp.delay(r, 0)).collect();
        assert_eq!(waits, [ms(10), ms(20), ms(40), ms(50), ms(50)]);
        assert_eq!(exp.delay(u32::MAX, 0), ms(50), "no overflow");
        assert_eq!(Backoff::fixed(ms(7)).delay(9, 1), ms(7));
        let huge = Backoff::fixed(Duration::from_secs(1 << 40));
        assert_eq!(huge.delay(1, 0), MAX_BACKOFF);
    }

    #[test]
    fn jitter_shortens_within_its_fraction() {
        let b = Backoff::fixed(Duration::from_millis(100)).jitter(0.5);
        let waits: Vec<_> = (0..200).map(|seed| b.delay(1, seed)).collect();
        assert!(waits
            .iter()
            .all(|w| *w > Duration::from_millis(50) && *w <= Duration::from_millis(100)));
        assert!(waits.iter().any(|w| *w != waits[0]), "the seed varies it");
        assert_eq!(b.delay(1, 42), b.delay(1, 42));
    }

    #[test]
    fn transient_errors_by_mark_predicate_or_any() {
        #[derive(Debug)]
        struct Outer(Transient);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("outer")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let marked = TaskError::new(Outer(Transient::new("down")));
        let plain = TaskError::msg("bad");
        let panic = TaskError::from_panic(Box::new("boom"));
        let p = RetryPolicy::new(2);
        assert!(p.is_transient(&marked), "found in the chain");
        assert!(!p.is_transient(&plain) && !p.is_transient(&panic));
        let any = RetryPolicy::new(2).any_error();
        assert!(any.is_transient(&plain) && !any.is_transient(&panic));
        let when = RetryPolicy::new(2).transient_if(|e| e.to_string().contains("ba"));
        assert!(when.is_transient(&plain) && !when.is_transient(&marked));
        let panicky = RetryPolicy::new(2).transient_if(|_| panic!("predicate bug"));
        assert!(!panicky.is_transient(&plain));
        assert_eq!(RetryPolicy::new(0).attempts(), 1);
    }
}
