//! This example's own stage: a memory of the last tweets, for the display. The others (text,
//! sentiment, `every_31st`) are `timbr_tweets::stages`, shared with `timbr-fleet`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use timbr_core::stage_fn;
use timbr_tweets::stages::Mood;

use crate::REMEMBERED;

/// What the `remember` stage shares with `main`: the last tweets and a tally of all moods.
#[derive(Default)]
pub(crate) struct Memory {
    /// The last [`REMEMBERED`] tweets: VADER's compound score and the text.
    pub(crate) recent: Mutex<VecDeque<(f64, String)>>,
    /// Positive, neutral, negative (numbered as [`Mood`] is).
    pub(crate) moods: [AtomicU64; 3],
}

/// Slot 2: a closure keeping the last tweets (score, text) in `memory`, and a tally of moods.
pub(crate) fn remember(memory: &Arc<Memory>) -> timbr_core::Stage {
    let memory = Arc::clone(memory);
    stage_fn!(2, name = "remember", move |f1: &f64,
                                          f0: &String|
          -> Result<
        usize,
        &'static str,
    > {
        memory.moods[Mood::of(*f1) as usize].fetch_add(1, Ordering::Relaxed);
        let mut recent = memory.recent.lock().map_err(|_| "poisoned")?;
        if recent.len() == REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((*f1, f0.clone()));
        Ok(recent.len())
    })
}
