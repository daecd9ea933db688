//! The pipeline's stages: the tweet's text, its VADER sentiment, a memory of the last
//! tweets, and a stage that fails on every 31st tweet.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use serde::Serialize;
use timbr_core::{stage, stage_fn};
use timbr_examples::Tweet;
use vader_sentiment::SentimentIntensityAnalyzer;

use crate::REMEMBERED;

/// VADER's analyser, made once: its first use parses the lexicons (about 7,500 words and
/// 3,500 emoji), which must not happen per tweet.
static VADER: LazyLock<SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

/// Slot 0: the tweet's text.
#[stage(0)]
pub(crate) fn text(input: &Tweet) -> String {
    input.text.clone()
}

/// Slot 1: VADER's compound score of the text, from -1 (most negative) to 1 (most positive).
#[stage(1)]
pub(crate) fn sentiment(f0: &str) -> f64 {
    VADER
        .polarity_scores(f0)
        .get("compound")
        .copied()
        .unwrap_or(0.0)
}

/// What a tweet's score says, by VADER's usual thresholds (±0.05).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mood {
    Positive,
    Neutral,
    Negative,
}

impl Mood {
    fn of(score: f64) -> Mood {
        if score >= 0.05 {
            Mood::Positive
        } else if score <= -0.05 {
            Mood::Negative
        } else {
            Mood::Neutral
        }
    }
}

/// Slot 3: the tweet's mood — but every 31st tweet of the stream fails, as the notebook's
/// last stage did. Decided by the tweet's place in the stream, so exactly `count / 31` fail
/// whatever the number of workers.
#[stage(3)]
pub(crate) fn every_31st(input: &Tweet, f1: &f64) -> Result<Mood, String> {
    if input.seq % 31 == 0 {
        return Err(format!("tweet #{} is a 31st", input.seq));
    }
    Ok(Mood::of(*f1))
}

/// What the `remember` stage shares with `main`: the last tweets and a tally of all moods.
#[derive(Default)]
pub(crate) struct Memory {
    /// The last [`REMEMBERED`] tweets: VADER's compound score and the text.
    pub(crate) recent: Mutex<VecDeque<(f64, String)>>,
    /// Positive, neutral, negative.
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
