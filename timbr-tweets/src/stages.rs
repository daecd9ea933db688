//! The demo pipeline's stages, shared by the `tweets` example and `timbr-fleet` (with the
//! `stages` feature): a tweet's text, its VADER sentiment, and its [`Mood`], which fails on
//! every 31st tweet, as the notebook's last stage did.
//!
//! Each is a `#[stage(n)]` function at the slot it has in the `tweets` example (slot 2, a
//! display's memory, is the example's own), listed in `from_stages!` and callable as a plain
//! function.
//!
//! # Examples
//!
//! ```
//! use timbr_core::{from_stages, Machine};
//! use timbr_tweets::stages::{every_31st, sentiment, text, Mood};
//! use timbr_tweets::{Tweet, TweetStream};
//!
//! let machine: Machine<Tweet> = from_stages![text, sentiment, every_31st]?;
//! let tweet = TweetStream::new(1).next().unwrap();
//! let mood = machine.call(tweet).value::<Mood>("f3").copied()?;
//! assert!([Mood::Positive, Mood::Neutral, Mood::Negative].contains(&mood));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::LazyLock;

use serde::Serialize;
use timbr_core::stage;
use vader_sentiment::SentimentIntensityAnalyzer;

use crate::Tweet;

/// VADER's analyser, made once: its first use parses the lexicons (about 7,500 words and
/// 3,500 emoji), which must not happen per tweet.
static VADER: LazyLock<SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

/// Slot 0: the tweet's text.
#[stage(0)]
pub fn text(input: &Tweet) -> String {
    input.text.clone()
}

/// Slot 1: VADER's compound score of the text, from -1 (most negative) to 1 (most positive).
#[stage(1)]
pub fn sentiment(f0: &str) -> f64 {
    VADER
        .polarity_scores(f0)
        .get("compound")
        .copied()
        .unwrap_or(0.0)
}

/// What a tweet's score says, by VADER's usual thresholds (±0.05). Serialized in lowercase
/// (`"positive"`); `as usize` numbers them 0, 1, 2 in this order, for a tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mood {
    /// A compound score of 0.05 or more.
    Positive,
    /// Between the two.
    Neutral,
    /// A compound score of -0.05 or less.
    Negative,
}

impl Mood {
    /// The mood of a compound score.
    pub fn of(score: f64) -> Mood {
        if score >= 0.05 {
            Mood::Positive
        } else if score <= -0.05 {
            Mood::Negative
        } else {
            Mood::Neutral
        }
    }
}

/// The failure of [`every_31st`]: the tweet's place in the stream is a multiple of 31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tweet #{0} is a 31st")]
pub struct ThirtyFirst(pub u64);

/// Slot 3: the tweet's [`Mood`] — but every 31st tweet of the stream fails. Decided by the
/// tweet's place in the stream ([`Tweet::seq`]), so exactly `count / 31` fail whatever the
/// number of workers (a fleet's workers read the place from the tweet's JSON).
///
/// # Errors
///
/// [`ThirtyFirst`] when `input.seq` is a multiple of 31.
#[stage(3)]
pub fn every_31st(input: &Tweet, f1: &f64) -> Result<Mood, ThirtyFirst> {
    if input.seq % 31 == 0 {
        return Err(ThirtyFirst(input.seq));
    }
    Ok(Mood::of(*f1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TweetStream;

    #[test]
    fn the_stages_are_plain_functions() {
        let tweet = TweetStream::new(5).nth(30).unwrap();
        assert_eq!(tweet.seq, 31);
        assert_eq!(text(&tweet), tweet.text);
        assert!(sentiment("what a great, lovely day") > 0.5);
        assert!(sentiment("this is awful and sad") < -0.5);
        assert_eq!(sentiment("the train leaves at noon"), 0.0);
        assert_eq!(every_31st(&tweet, &0.9), Err(ThirtyFirst(31)));
        assert_eq!(ThirtyFirst(31).to_string(), "tweet #31 is a 31st");
        let next = TweetStream::new(5).nth(31).unwrap();
        assert_eq!(every_31st(&next, &0.9), Ok(Mood::Positive));
        assert_eq!(every_31st(&next, &0.0), Ok(Mood::Neutral));
        assert_eq!(every_31st(&next, &-0.3), Ok(Mood::Negative));
        assert_eq!(
            serde_json::to_string(&Mood::Negative).unwrap(),
            "\"negative\""
        );
    }
}
