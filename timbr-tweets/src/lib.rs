//! Made-up tweets for timbr's examples and demos: [`TweetStream`], an endless stream of
//! tweet-like [`Tweet`]s made on this machine (no network, no account; the same tweets for the
//! same seed), and [`paced`] to let any stream arrive at a set rate.
//!
//! A [`Tweet`] has the shape of a status of Twitter's v1.1 streaming API: `created_at` in
//! Twitter's format ([`twitter_time`]), snowflake ids that grow with it, a [`User`], and
//! [`Entities`] (hashtags, mentions, links) whose `indices` point into the text. The text is
//! English built from templates and word lists (data files in `data/`): opinions about
//! everyday things, positive, negative, neutral and mixed, so that a sentiment analyser gives
//! a wide spread of scores.
//!
//! Each tweet knows its place in its stream ([`Tweet::seq`], 1 for the first), which Twitter's
//! JSON has no field for: a tweet's JSON carries it as one more field, `seq`, so that the
//! place reaches a fleet's workers and survives a failure's replay (a tweet read from JSON
//! without it has 0, and writes none).
//!
//! With the `stages` feature (off by default: it brings timbr-core and VADER), the `stages`
//! module holds the demo pipeline's stages (the text, its VADER sentiment, its mood, which
//! fails on every 31st tweet), shared by the `tweets` example and `timbr-fleet`.
//!
//! # Examples
//!
//! ```
//! use timbr_tweets::{paced, Tweet, TweetStream};
//!
//! // Ten tweets of seed 7, at most 10,000 a second.
//! let tweets: Vec<Tweet> = paced(TweetStream::new(7), 10_000.0).take(10).collect();
//! assert_eq!(tweets[9].seq, 10);
//! assert!(tweets.windows(2).all(|w| w[0].id < w[1].id));
//!
//! // On the wire with its place in the stream, and back.
//! let json = serde_json::to_string(&tweets[9]).unwrap();
//! assert!(json.ends_with(r#","seq":10}"#));
//! let back: Tweet = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, tweets[9]);
//! ```

mod clock;
#[cfg(feature = "stages")]
pub mod stages;
mod stream;
mod tweet;

pub use crate::clock::{paced, twitter_time, Paced};
pub use crate::stream::{TweetStream, MAX_TEXT_CHARS};
pub use crate::tweet::{Entities, Hashtag, Mention, Tweet, Url, User};
