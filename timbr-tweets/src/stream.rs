//! A tweet-like stream made on this machine: no network, no account, the same tweets for the
//! same seed.
//!
//! [`TweetStream`] is an endless iterator of [`Tweet`]s shaped like the statuses of Twitter's
//! v1.1 streaming API (the notebook's source): `created_at` in Twitter's format, snowflake
//! ids, a [`User`], [`Entities`] with hashtags, mentions and URLs whose `indices` point into
//! the text. The text is English built from templates and word lists: positive, negative,
//! neutral and mixed opinions about everyday topics, with boosters ("so", "kinda"),
//! negations ("not great at all"), shouting in capitals, emoji, hashtags, @mentions,
//! retweets and the occasional link, so that a sentiment analyser such as VADER gives a wide
//! spread of scores.
//!
//! [`paced`](crate::paced) slows any iterator down to a given rate, for a stream that arrives
//! over time.

mod rng;
#[cfg(test)]
mod tests;
mod words;

use std::borrow::Cow;

use crate::clock::twitter_time;
use crate::tweet::{Entities, Hashtag, Mention, Tweet, Url, User};
use rng::SplitMix64;
use words::*;

/// Twitter's epoch for snowflake ids: 2010-11-04T01:42:54.657Z, in ms since the Unix epoch.
const TWITTER_EPOCH_MS: u64 = 1_288_834_974_657;

/// When a [`TweetStream`] starts: 2018-10-10T20:19:24Z (the API docs' example tweet).
const START_MS: u64 = 1_539_202_764_000;

/// The last time a snowflake id holds (42 bits of ms after [`TWITTER_EPOCH_MS`], so that ids
/// keep growing with time): in 2150, after some 136 billion tweets, where a stream ends.
const LAST_MS: u64 = TWITTER_EPOCH_MS + (1 << 42) - 1;

/// How many distinct users a stream draws its authors and mentions from.
const USERS: u64 = 10_000;

/// The longest text a tweet may have, in characters.
pub const MAX_TEXT_CHARS: usize = 280;

/// An endless (136 billion tweets), deterministic stream of [`Tweet`]s: the same seed gives the
/// same tweets.
///
/// Take as many as needed with [`Iterator::take`]. Each tweet is posted 1 to 60 ms after the
/// one before it (30.5 ms on average; in `created_at`, not in real time: see
/// [`paced`](crate::paced) for that), starting at 2018-10-10T20:19:24Z.
///
/// Each tweet is made from its seed and its place alone, so a stream can start anywhere at no
/// cost ([`starting_at`](TweetStream::starting_at); [`Iterator::nth`] and
/// [`Iterator::skip`] jump too): a fleet's producer continues at tweet 10 million at once.
///
/// # Examples
///
/// ```
/// use timbr_tweets::TweetStream;
///
/// let tweets: Vec<_> = TweetStream::new(7).take(3).collect();
/// assert_eq!(tweets[0].seq, 1);
/// assert!(tweets[0].created_at.ends_with(" +0000 2018"));
/// assert!(tweets[0].id < tweets[1].id);
/// assert_eq!(tweets, TweetStream::new(7).take(3).collect::<Vec<_>>());
/// assert_eq!(tweets[1..], TweetStream::starting_at(7, 1).take(2).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug)]
pub struct TweetStream {
    seed: u64,
    /// The generator of the tweet being made (seeded anew for each: see [`tweet_rng`]).
    rng: SplitMix64,
    /// The place of the last tweet made (0 before the first).
    seq: u64,
}

impl TweetStream {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        TweetStream::starting_at(seed, 0)
    }

    /// The stream for `seed` after its first `skipped` tweets: the tweets
    /// `TweetStream::new(seed).skip(skipped)` gives, without making the skipped ones. Its first
    /// tweet's [`seq`](Tweet::seq) is `skipped + 1`.
    pub fn starting_at(seed: u64, skipped: u64) -> Self {
        TweetStream {
            seed,
            rng: SplitMix64::new(seed),
            seq: skipped,
        }
    }

    /// User number `k` (< [`USERS`]) of this stream's seed: always the same user.
    fn user(&self, k: u64) -> User {
        let mut rng = SplitMix64::new(self.seed ^ k.wrapping_mul(0xA076_1D64_78BD_642F));
        let first = rng.word(&FIRST_NAMES[..]);
        let last = rng.word(&LAST_NAMES[..]);
        let mut screen_name = match rng.below(4) {
            0 => format!("{first}{last}"),
            1 => format!("{first}_{last}"),
            2 => format!("{}{last}", &first[..1]),
            _ => format!("{first}{}", rng.word(&HANDLE_SUFFIXES[..])),
        };
        if rng.chance(0.4) {
            screen_name.push_str(&rng.below(100).to_string());
        }
        // A handle is ASCII letters, digits and `_`, at most 15 of them.
        let mut screen_name: String = screen_name
            .chars()
            .map(|c| if c == 'ü' { 'u' } else { c })
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        screen_name.truncate(15);
        // Spread out, unique per k, and stable.
        let id = 1_000_000 + k * 400_000 + rng.below(400_000);
        // Log-uniform: most users have a few hundred followers, a few have millions.
        let followers_count = 10f64.powf(rng.unit() * 6.5) as u64;
        let account_ms = 1_170_000_000_000 + rng.below(START_MS - 1_170_000_000_000);
        User {
            id,
            id_str: id.to_string(),
            name: format!("{} {}", capitalized(first), capitalized(last)),
            screen_name,
            location: rng
                .chance(0.7)
                .then(|| Cow::Borrowed(rng.word(&PLACES[..]))),
            description: Cow::Borrowed(rng.word(&DESCRIPTIONS[..])),
            verified: followers_count > 200_000 && rng.chance(0.5),
            followers_count,
            friends_count: 10f64.powf(rng.unit() * 3.7) as u64,
            statuses_count: 10f64.powf(1.0 + rng.unit() * 4.5) as u64,
            created_at: twitter_time(account_ms),
        }
    }

    /// A user number skewed towards small ones: a few users post a lot.
    fn some_user(&mut self) -> u64 {
        let bound = self.rng.below(USERS) + 1;
        self.rng.below(bound)
    }

    /// None to three hashtags (no tag twice), at the end of the text. Draws from the
    /// stream's generator in the order `next` always did: the same seed, the same tweets.
    fn hashtags(&mut self, text: &mut Text, entities: &mut Entities) {
        let tags = match self.rng.below(20) {
            0..=6 => 0,
            7..=13 => 1,
            14..=17 => 2,
            _ => 3,
        };
        for _ in 0..tags {
            let tag = self.rng.word(&HASHTAGS[..]);
            if entities.hashtags.iter().any(|h| h.text == tag) {
                continue;
            }
            text.push(" ");
            let start = text.chars;
            text.push("#");
            text.push(tag);
            entities.hashtags.push(Hashtag {
                text: tag.to_owned(),
                indices: [start, text.chars],
            });
        }
    }

    /// Now and then a link, shortened as Twitter does, at the end of the text.
    fn link(&mut self, text: &mut Text, entities: &mut Entities) {
        if self.rng.chance(0.12) {
            let short: String = (0..10)
                .map(|_| char::from(*self.rng.pick(BASE62)))
                .collect();
            let url = format!("https://t.co/{short}");
            let domain = self.rng.word(&LINK_DOMAINS[..]);
            let path = format!(
                "{}/{}",
                self.rng.word(&LINK_PATHS[..]),
                self.rng.below(100_000)
            );
            text.push(" ");
            let start = text.chars;
            text.push(&url);
            entities.urls.push(Url {
                url,
                expanded_url: format!("https://{domain}/{path}"),
                display_url: format!("{domain}/{}…", &path[..path.len().min(12)]),
                indices: [start, text.chars],
            });
        }
    }
}

impl Iterator for TweetStream {
    type Item = Tweet;

    /// Jumps: the tweets before the `n`th are not made (see [`TweetStream::starting_at`]).
    fn nth(&mut self, n: usize) -> Option<Tweet> {
        self.seq = self.seq.checked_add(u64::try_from(n).ok()?)?;
        self.next()
    }

    fn next(&mut self) -> Option<Tweet> {
        self.seq = self.seq.checked_add(1)?;
        self.rng = tweet_rng(self.seed, self.seq);
        let ms = posted_at(self.seed, self.seq)?;
        let author = self.some_user();
        let user = self.user(author);
        let mut text = Text::default();
        let mut entities = Entities::default();
        let mut reply_to = None;

        // A retweet or a reply starts with the other user's handle.
        let lead = self.rng.below(100);
        let is_retweet = lead < 10;
        if lead < 30 {
            let k = (author + 1 + self.some_user()) % USERS;
            let other = self.user(k);
            if is_retweet {
                text.push("RT ");
            }
            entities.user_mentions.push(text.mention(&other));
            text.push(if is_retweet { ": " } else { " " });
            if !is_retweet {
                reply_to = Some(other);
            }
        }

        let mood = self.compose(&mut text);

        if self.rng.chance(0.08) {
            let k = self.some_user();
            let other = self.user(k);
            text.push(" cc ");
            entities.user_mentions.push(text.mention(&other));
        }
        if self.rng.chance(0.45) {
            text.push(" ");
            for _ in 0..=self.rng.below(3) {
                let pool = match mood {
                    Mood::Positive if self.rng.chance(0.85) => &POSITIVE_EMOJI[..],
                    Mood::Negative if self.rng.chance(0.85) => &NEGATIVE_EMOJI[..],
                    _ => &NEUTRAL_EMOJI[..],
                };
                text.push(self.rng.word(pool));
            }
        }
        self.hashtags(&mut text, &mut entities);
        self.link(&mut text, &mut entities);

        let snowflake =
            ((ms - TWITTER_EPOCH_MS) << 22) | (self.rng.below(1024) << 12) | (self.seq & 0xFFF);
        Some(Tweet {
            created_at: twitter_time(ms),
            id: snowflake,
            id_str: snowflake.to_string(),
            text: text.text,
            source: Cow::Borrowed(self.rng.word(&SOURCES[..])),
            truncated: false,
            in_reply_to_status_id: reply_to
                .as_ref()
                .map(|_| snowflake - (1 + self.rng.below(1 << 40))),
            in_reply_to_user_id: reply_to.as_ref().map(|u| u.id),
            in_reply_to_screen_name: reply_to.map(|u| u.screen_name),
            user,
            is_retweet,
            retweet_count: 0,
            favorite_count: 0,
            entities,
            lang: Cow::Borrowed("en"),
            timestamp_ms: ms.to_string(),
            seq: self.seq,
        })
    }
}

/// The generator of tweet number `seq` of the stream of `seed`: a tweet depends on its seed
/// and its place only, which is what lets a stream start anywhere.
fn tweet_rng(seed: u64, seq: u64) -> SplitMix64 {
    // Hashed (SplitMix64's output is a good 64-bit mix), so that nearby seeds or places do
    // not give overlapping sequences of draws.
    let state = SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B).next_u64();
    SplitMix64::new(SplitMix64::new(state ^ seq.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64())
}

/// When tweet number `seq` (from 1) of the stream of `seed` is posted, in ms since the Unix
/// epoch: on a steady beat of 30.5 ms (30 and 31 in turn) from [`START_MS`], each tweet late by
/// 0–29 ms of its own. Two neighbours are thus 1 to 60 ms apart, and the time of any tweet is
/// known without making those before it.
///
/// `None` past [`LAST_MS`].
fn posted_at(seed: u64, seq: u64) -> Option<u64> {
    let beat = (seq / 2).checked_mul(61)? + seq % 2 * 30;
    let late = SplitMix64::new(seed ^ seq.wrapping_mul(0x9FB2_1C65_1E98_DF25)).below(30);
    START_MS
        .checked_add(beat)?
        .checked_add(late)
        .filter(|&ms| ms <= LAST_MS)
}

/// What a template means to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mood {
    Positive,
    Negative,
    Neutral,
    Mixed,
}

impl TweetStream {
    /// Writes the body of a tweet from a template of a mood chosen at random.
    fn compose(&mut self, text: &mut Text) -> Mood {
        let (mood, templates) = match self.rng.below(100) {
            0..=34 => (Mood::Positive, &POSITIVE[..]),
            35..=64 => (Mood::Negative, &NEGATIVE[..]),
            65..=84 => (Mood::Neutral, &NEUTRAL[..]),
            _ => (Mood::Mixed, &MIXED[..]),
        };
        let template = self.rng.word(templates);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            text.push(&rest[..open]);
            let close = open + rest[open..].find('}').unwrap_or(rest.len() - open - 1);
            let slot = &rest[open + 1..close];
            self.fill(text, slot, rest.len() == template.len() && open == 0);
            rest = &rest[close + 1..];
        }
        text.push(rest);
        if self.rng.chance(0.05) && mood != Mood::Neutral {
            // Shouting: the whole body in capitals.
            text.shout_from(0);
        }
        mood
    }

    /// Fills one `{slot}` of a template; `first` when it opens the text (capitalized).
    fn fill(&mut self, text: &mut Text, slot: &str, first: bool) {
        let words: &[&str] = match slot {
            "topic" | "Topic" | "topic2" => &TOPICS[..],
            "pos" => &POSITIVE_WORDS[..],
            "neg" => &NEGATIVE_WORDS[..],
            "boost" => BOOSTERS,
            "love" => &LOVE[..],
            "hate" => &HATE[..],
            "wow" => &WOW[..],
            "ugh" => &UGH[..],
            "when" => &WHEN[..],
            "clock" => &CLOCK[..],
            "place" => &PLACES[..],
            "end" => ENDINGS,
            _ => unreachable!("no word list for the template slot `{{{slot}}}`"),
        };
        let word = self.rng.word(words);
        let start = text.text.len();
        let sentence_start = first || text.text.trim_end().ends_with(['.', '!', '?']);
        text.push(word);
        if slot == "Topic" || sentence_start {
            text.capitalize_at(start);
        }
        // Now and then a sentiment word in capitals, which VADER reads as emphasis.
        if (slot == "pos" || slot == "neg") && self.rng.chance(0.1) {
            text.shout_from(start);
        }
    }
}

/// A text being built, with its length in characters (the unit of entity indices).
#[derive(Default)]
struct Text {
    text: String,
    chars: usize,
}

impl Text {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.chars += s.chars().count();
    }

    /// Appends `@handle` and returns it as a mention.
    fn mention(&mut self, user: &User) -> Mention {
        let start = self.chars;
        self.push("@");
        self.push(&user.screen_name);
        Mention {
            screen_name: user.screen_name.clone(),
            name: user.name.clone(),
            id: user.id,
            id_str: user.id_str.clone(),
            indices: [start, self.chars],
        }
    }

    /// Capitalizes the ASCII letter at byte `at`, if it is one.
    fn capitalize_at(&mut self, at: usize) {
        if let Some(head) = self.text.get_mut(at..at + 1) {
            head.make_ascii_uppercase();
        }
    }

    /// Turns the text from byte `at` on into capitals, except @handles, which stay as they
    /// are (ASCII only, so lengths do not change).
    fn shout_from(&mut self, at: usize) {
        let mut handle = false;
        let tail = self.text.split_off(at);
        let shouted: String = tail
            .chars()
            .map(|c| {
                if c == '@' {
                    handle = true;
                } else if c.is_whitespace() {
                    handle = false;
                }
                if handle {
                    c
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        self.text.push_str(&shouted);
    }
}

/// `word` with its first letter (ASCII) in capitals.
fn capitalized(word: &str) -> String {
    let mut word = word.to_owned();
    if let Some(head) = word.get_mut(..1) {
        head.make_ascii_uppercase();
    }
    word
}
