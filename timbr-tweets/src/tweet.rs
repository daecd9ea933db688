//! The tweet as the streaming API delivered it, and its parts.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// One tweet, as the streaming API delivered it (the fields a pipeline is likely to read).
///
/// Serializes to the API's JSON field names, plus [`seq`](Tweet::seq), the generator's own,
/// when it is not 0. Deserializes from the same JSON (for a fleet, whose workers read
/// tweets from a Redis Stream), `seq` included (0 when it is not there): a tweet goes
/// through JSON and back unchanged, so a failure replayed from a fleet's failure stream is
/// the tweet that failed, its place included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tweet {
    /// When it was posted, e.g. `Wed Oct 10 20:19:24 +0000 2018`.
    pub created_at: String,
    /// Its snowflake id: the time in its high bits, so ids grow with `created_at`.
    pub id: u64,
    /// [`id`](Tweet::id) as a string (JavaScript cannot hold it as a number).
    pub id_str: String,
    /// The text, at most [`MAX_TEXT_CHARS`](crate::MAX_TEXT_CHARS) characters.
    pub text: String,
    /// The client it was posted with, as an HTML link.
    pub source: Cow<'static, str>,
    /// Whether the text was cut (never, here).
    pub truncated: bool,
    /// The status it replies to, for a reply.
    pub in_reply_to_status_id: Option<u64>,
    /// The author of the status it replies to, for a reply.
    pub in_reply_to_user_id: Option<u64>,
    /// That author's screen name, for a reply.
    pub in_reply_to_screen_name: Option<String>,
    /// Who posted it.
    pub user: User,
    /// Whether it is a retweet (its text starts with `RT @name: `).
    pub is_retweet: bool,
    /// Retweets so far (0: the stream delivers tweets as they are posted).
    pub retweet_count: u64,
    /// Likes so far (0, likewise).
    pub favorite_count: u64,
    /// Hashtags, URLs and mentions in the text.
    pub entities: Entities,
    /// The text's language (BCP 47).
    pub lang: Cow<'static, str>,
    /// [`created_at`](Tweet::created_at) in ms since the Unix epoch, as a string.
    pub timestamp_ms: String,
    /// The place of this tweet in its stream: 1 for the first, 0 for a tweet read from
    /// JSON without one. Not a Twitter field: serialized last, and only when not 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}

/// The author of a [`Tweet`] (or a mentioned user).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: u64,
    /// [`id`](User::id) as a string.
    pub id_str: String,
    /// The display name, e.g. `Priya Okafor`.
    pub name: String,
    /// The handle without its `@`: letters, digits and `_`, at most 15 characters.
    pub screen_name: String,
    /// Where the user says they are.
    pub location: Option<Cow<'static, str>>,
    /// The profile's description.
    pub description: Cow<'static, str>,
    /// Whether the account is verified.
    pub verified: bool,
    /// Followers.
    pub followers_count: u64,
    /// Accounts the user follows.
    pub friends_count: u64,
    /// Tweets the user has posted.
    pub statuses_count: u64,
    /// When the account was made, in Twitter's format.
    pub created_at: String,
}

/// What the text of a [`Tweet`] links to: hashtags, URLs and mentions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entities {
    /// The hashtags, in the order they appear.
    pub hashtags: Vec<Hashtag>,
    /// The links, shortened to `https://t.co/…` in the text.
    pub urls: Vec<Url>,
    /// The `@mentions`, in the order they appear.
    pub user_mentions: Vec<Mention>,
}

/// A `#hashtag` in a tweet's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hashtag {
    /// The tag without its `#`.
    pub text: String,
    /// Where `#tag` is in the text, in characters: `[start, end)`.
    pub indices: [usize; 2],
}

/// A link in a tweet's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Url {
    /// The shortened link, as in the text.
    pub url: String,
    /// Where it leads.
    pub expanded_url: String,
    /// How a client shows it.
    pub display_url: String,
    /// Where [`url`](Url::url) is in the text, in characters: `[start, end)`.
    pub indices: [usize; 2],
}

/// An `@mention` in a tweet's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// The handle without its `@`.
    pub screen_name: String,
    /// The display name.
    pub name: String,
    /// The user's id.
    pub id: u64,
    /// [`id`](Mention::id) as a string.
    pub id_str: String,
    /// Where `@handle` is in the text, in characters: `[start, end)`.
    pub indices: [usize; 2],
}

/// Whether a tweet's [`seq`](Tweet::seq) is left out of its JSON (serde's
/// `skip_serializing_if` takes a reference).
fn is_zero(seq: &u64) -> bool {
    *seq == 0
}
