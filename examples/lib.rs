//! What the timbr examples share: [`TweetStream`], an endless, seeded stream of tweet-like
//! [`Tweet`]s made on this machine (the `tweets` example's source; its word lists are data
//! files in `data/`), and [`paced`] to let any stream arrive at a set rate.
//!
//! (The machines the `throughput` example and the benches measure are in the
//! `timbr-workloads` package, beside the benches.)

mod tweetgen;

pub use crate::tweetgen::{
    paced, twitter_time, Entities, Hashtag, Mention, Paced, Tweet, TweetStream, Url, User,
    MAX_TEXT_CHARS,
};
