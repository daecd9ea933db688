//! The wire form of a tweet with its place in the stream.

use serde::Serialize;

use crate::Tweet;

/// A [`Tweet`] as a producer puts it on a queue: its JSON with one more field, `seq` (its
/// place in the stream, which Twitter's JSON has no field for and [`Tweet`] does not
/// serialize). A worker deserializes it as a [`Tweet`], `seq` included, so that a stage such as
/// `every_31st` sees the place the producer gave it.
///
/// Serialize-only: the reading side is [`Tweet`]'s `Deserialize`.
///
/// # Examples
///
/// ```
/// use timbr_tweets::{Sequenced, Tweet, TweetStream};
///
/// let tweet = TweetStream::new(3).nth(4).unwrap();
/// let json = serde_json::to_value(Sequenced::from(tweet.clone())).unwrap();
/// assert_eq!(json["seq"], 5);
/// assert_eq!(serde_json::from_value::<Tweet>(json).unwrap(), tweet);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sequenced {
    /// Always the tweet's own `seq` (private, so that the two cannot differ).
    seq: u64,
    #[serde(flatten)]
    tweet: Tweet,
}

impl Sequenced {
    /// The tweet.
    pub fn tweet(&self) -> &Tweet {
        &self.tweet
    }

    /// The tweet, given back.
    pub fn into_tweet(self) -> Tweet {
        self.tweet
    }
}

impl From<Tweet> for Sequenced {
    fn from(tweet: Tweet) -> Self {
        Sequenced {
            seq: tweet.seq,
            tweet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TweetStream;

    #[test]
    fn a_sequenced_tweet_reads_back_as_the_tweet_with_its_place() {
        for tweet in TweetStream::new(9).take(300) {
            let json = serde_json::to_string(&Sequenced::from(tweet.clone())).unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["seq"], tweet.seq);
            let back: Tweet = serde_json::from_str(&json).unwrap();
            assert_eq!(back, tweet);
            // Without the wrapper the place is not on the wire.
            let plain: Tweet =
                serde_json::from_str(&serde_json::to_string(&tweet).unwrap()).unwrap();
            assert_eq!(plain.seq, 0);
        }
    }
}
