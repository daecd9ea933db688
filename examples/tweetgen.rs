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
//! [`paced`] slows any iterator down to a given rate, for a stream that arrives over time.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Twitter's epoch for snowflake ids: 2010-11-04T01:42:54.657Z, in ms since the Unix epoch.
const TWITTER_EPOCH_MS: u64 = 1_288_834_974_657;

/// When a [`TweetStream`] starts: 2018-10-10T20:19:24Z (the API docs' example tweet).
const START_MS: u64 = 1_539_202_764_000;

/// How many distinct users a stream draws its authors and mentions from.
const USERS: u64 = 10_000;

/// The longest text a tweet may have, in characters.
pub const MAX_TEXT_CHARS: usize = 280;

/// One tweet, as the streaming API delivered it (the fields a pipeline is likely to read).
///
/// Serializes to the API's JSON field names; [`seq`](Tweet::seq) is the generator's own and
/// is not serialized. Deserializes from the same JSON (for a fleet, whose workers read
/// tweets from a Redis Stream), reading `seq` too when it is there (0 when not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tweet {
    /// When it was posted, e.g. `Wed Oct 10 20:19:24 +0000 2018`.
    pub created_at: String,
    /// Its snowflake id: the time in its high bits, so ids grow with `created_at`.
    pub id: u64,
    /// [`id`](Tweet::id) as a string (JavaScript cannot hold it as a number).
    pub id_str: String,
    /// The text, at most [`MAX_TEXT_CHARS`] characters.
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
    /// The place of this tweet in its stream: 1 for the first. Not a Twitter field: not
    /// serialized, but read when deserializing if present (a fleet's producer adds it).
    #[serde(skip_serializing, default)]
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

/// An endless, deterministic stream of [`Tweet`]s: the same seed gives the same tweets.
///
/// Take as many as needed with [`Iterator::take`]. Each tweet is posted 1 to 60 ms after the
/// one before it (in `created_at`, not in real time: see [`paced`] for that), starting at
/// 2018-10-10T20:19:24Z.
///
/// # Examples
///
/// ```
/// use timbr_examples::TweetStream;
///
/// let tweets: Vec<_> = TweetStream::new(7).take(3).collect();
/// assert_eq!(tweets[0].seq, 1);
/// assert!(tweets[0].created_at.ends_with(" +0000 2018"));
/// assert!(tweets[0].id < tweets[1].id);
/// assert_eq!(tweets, TweetStream::new(7).take(3).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug)]
pub struct TweetStream {
    seed: u64,
    rng: SplitMix64,
    seq: u64,
    ms: u64,
}

impl TweetStream {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        TweetStream {
            seed,
            rng: SplitMix64::new(seed),
            seq: 0,
            ms: START_MS,
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
}

impl Iterator for TweetStream {
    type Item = Tweet;

    fn next(&mut self) -> Option<Tweet> {
        self.seq += 1;
        self.ms += 1 + self.rng.below(60);
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

        let snowflake = ((self.ms - TWITTER_EPOCH_MS) << 22)
            | (self.rng.below(1024) << 12)
            | (self.seq & 0xFFF);
        Some(Tweet {
            created_at: twitter_time(self.ms),
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
            timestamp_ms: self.ms.to_string(),
            seq: self.seq,
        })
    }
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

/// Formats a time (ms since the Unix epoch, UTC) as Twitter does:
/// `Wed Oct 10 20:19:24 +0000 2018`.
///
/// # Examples
///
/// ```
/// assert_eq!(timbr_examples::twitter_time(1_539_202_764_000), "Wed Oct 10 20:19:24 +0000 2018");
/// ```
pub fn twitter_time(unix_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {day:02} {:02}:{:02}:{:02} +0000 {year}",
        DAYS[((days + 4) % 7) as usize], // 1970-01-01 was a Thursday
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
    )
}

/// The (year, month 1–12, day 1–31) of a day counted from 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// An iterator that yields no faster than `per_second` items a second: item `k` (from 0)
/// comes no earlier than `k / per_second` seconds after the first was asked for. It sleeps
/// on the thread that calls `next` (a machine's source thread), so a slow consumer is not
/// made up for with bursts beyond what it missed.
///
/// A rate that is not positive and finite leaves the iterator unpaced.
///
/// # Examples
///
/// ```
/// use timbr_examples::paced;
///
/// let items: Vec<u32> = paced(0..5, 1000.0).collect(); // about 4 ms
/// assert_eq!(items, [0, 1, 2, 3, 4]);
/// ```
pub fn paced<I: Iterator>(iter: I, per_second: f64) -> Paced<I> {
    let interval = if per_second.is_finite() && per_second > 0.0 {
        Duration::try_from_secs_f64(1.0 / per_second).ok()
    } else {
        None
    };
    Paced {
        iter,
        interval,
        start: None,
        yielded: 0,
    }
}

/// The iterator of [`paced`].
#[derive(Debug)]
pub struct Paced<I> {
    iter: I,
    interval: Option<Duration>,
    start: Option<Instant>,
    yielded: u32,
}

impl<I: Iterator> Iterator for Paced<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if let Some(interval) = self.interval {
            let start = *self.start.get_or_insert_with(Instant::now);
            if let Some(due) = interval
                .checked_mul(self.yielded)
                .and_then(|d| start.checked_add(d))
            {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            // Restart the schedule before the count overflows (after 4 billion items).
            if self.yielded == u32::MAX {
                self.start = Some(Instant::now());
                self.yielded = 0;
            }
            self.yielded += 1;
        }
        self.iter.next()
    }
}

/// SplitMix64 (Steele, Lea and Flood): a tiny, fast generator that is plenty for made-up
/// tweets (and nothing else).
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0), by Lemire's multiply-shift (bias below 2⁻³²).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items` (not empty).
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One of `words` (not empty).
    fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len() as u64) as usize]
    }
}

// ---- the word lists ------------------------------------------------------------------------
// Data, not code: one entry per line in `data/*.txt`, in the order they are drawn (a blank
// line is an empty entry: "no description"). Only the two lists whose entries begin or end
// with spaces (`BOOSTERS`, `ENDINGS`) stay here.

/// The entries of a word list: its lines.
fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines().collect()
}

static POSITIVE: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/positive.txt")));

static NEGATIVE: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/negative.txt")));

static NEUTRAL: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/neutral.txt")));

static MIXED: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/mixed.txt")));

static TOPICS: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/topics.txt")));

static POSITIVE_WORDS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/positive_words.txt")));

static NEGATIVE_WORDS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/negative_words.txt")));

const BOOSTERS: &[&str] = &[
    "",
    "",
    "",
    "",
    "so ",
    "really ",
    "very ",
    "absolutely ",
    "totally ",
    "extremely ",
    "kinda ",
    "slightly ",
    "pretty ",
];

static LOVE: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/love.txt")));
static HATE: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/hate.txt")));
static WOW: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/wow.txt")));
static UGH: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/ugh.txt")));
static WHEN: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/when.txt")));
static CLOCK: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/clock.txt")));
const ENDINGS: &[&str] = &["", "", ".", "!", "!!", "!!!", " lol", "..."];

static PLACES: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/places.txt")));

static POSITIVE_EMOJI: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/positive_emoji.txt")));
static NEGATIVE_EMOJI: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/negative_emoji.txt")));
static NEUTRAL_EMOJI: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/neutral_emoji.txt")));

static HASHTAGS: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/hashtags.txt")));

static FIRST_NAMES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/first_names.txt")));
static LAST_NAMES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/last_names.txt")));
static HANDLE_SUFFIXES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/handle_suffixes.txt")));
static DESCRIPTIONS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/descriptions.txt")));
static SOURCES: LazyLock<Vec<&str>> = LazyLock::new(|| lines(include_str!("data/sources.txt")));
static LINK_DOMAINS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/link_domains.txt")));
static LINK_PATHS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("data/link_paths.txt")));
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn sample(n: usize) -> Vec<Tweet> {
        TweetStream::new(42).take(n).collect()
    }

    #[test]
    fn a_tweet_reads_back_from_its_json_with_its_place_when_given() {
        for tweet in sample(300) {
            let json = serde_json::to_value(&tweet).unwrap();
            assert!(json.get("seq").is_none(), "not a Twitter field");
            let mut back: Tweet = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back.seq, 0);
            back.seq = tweet.seq;
            assert_eq!(back, tweet);
            let mut numbered = json;
            numbered["seq"] = tweet.seq.into();
            let back: Tweet = serde_json::from_value(numbered).unwrap();
            assert_eq!(back, tweet);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_tweets() {
        let a: Vec<Tweet> = TweetStream::new(1).take(500).collect();
        let b: Vec<Tweet> = TweetStream::new(1).take(500).collect();
        assert_eq!(a, b);
        let c: Vec<Tweet> = TweetStream::new(2).take(500).collect();
        assert_ne!(a, c);
        // The JSON too, byte for byte.
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
    }

    #[test]
    fn tweets_are_numbered_from_one_with_growing_times_and_ids() {
        let tweets = sample(2000);
        for (i, pair) in tweets.windows(2).enumerate() {
            assert_eq!(pair[0].seq, i as u64 + 1);
            assert!(pair[0].id < pair[1].id);
            let (t0, t1): (u64, u64) = (
                pair[0].timestamp_ms.parse().unwrap(),
                pair[1].timestamp_ms.parse().unwrap(),
            );
            assert!(t0 < t1);
        }
        let ids: HashSet<u64> = tweets.iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), tweets.len());
    }

    #[test]
    fn created_at_is_in_twitters_format() {
        assert_eq!(twitter_time(0), "Thu Jan 01 00:00:00 +0000 1970");
        assert_eq!(
            twitter_time(1_539_202_764_000),
            "Wed Oct 10 20:19:24 +0000 2018"
        );
        assert_eq!(
            twitter_time(951_782_400_000),
            "Tue Feb 29 00:00:00 +0000 2000"
        );
        assert_eq!(
            twitter_time(1_735_689_599_999),
            "Tue Dec 31 23:59:59 +0000 2024"
        );
        for tweet in sample(200) {
            let parts: Vec<&str> = tweet.created_at.split(' ').collect();
            assert_eq!(parts.len(), 6, "{}", tweet.created_at);
            assert_eq!(parts[4], "+0000");
            let ms: u64 = tweet.timestamp_ms.parse().unwrap();
            assert_eq!(tweet.created_at, twitter_time(ms));
            // The snowflake id holds the same time.
            assert_eq!((tweet.id >> 22) + TWITTER_EPOCH_MS, ms);
            assert_eq!(tweet.id_str, tweet.id.to_string());
        }
    }

    #[test]
    fn snowflakes_match_twitters() {
        // The API docs' example: id 1050118621198921728 was posted at 20:19:24.
        let ms = (1_050_118_621_198_921_728_u64 >> 22) + TWITTER_EPOCH_MS;
        assert_eq!(twitter_time(ms), "Wed Oct 10 20:19:24 +0000 2018");
    }

    #[test]
    fn entities_point_into_the_text() {
        let tweets = sample(5000);
        let mut hashtags = 0;
        let mut mentions = 0;
        let mut urls = 0;
        for t in &tweets {
            let chars: Vec<char> = t.text.chars().collect();
            let at = |[a, b]: [usize; 2]| chars[a..b].iter().collect::<String>();
            for h in &t.entities.hashtags {
                assert_eq!(at(h.indices), format!("#{}", h.text), "{}", t.text);
                hashtags += 1;
            }
            for m in &t.entities.user_mentions {
                assert_eq!(at(m.indices), format!("@{}", m.screen_name), "{}", t.text);
                assert!(m.screen_name.len() <= 15);
                assert!(m
                    .screen_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'));
                mentions += 1;
            }
            for u in &t.entities.urls {
                assert_eq!(at(u.indices), u.url);
                assert!(u.url.starts_with("https://t.co/"));
                urls += 1;
            }
            assert!(
                chars.len() <= MAX_TEXT_CHARS,
                "{} chars: {}",
                chars.len(),
                t.text
            );
            assert!(!t.text.trim().is_empty());
            if t.is_retweet {
                assert!(t.text.starts_with("RT @"));
            }
            if let Some(name) = &t.in_reply_to_screen_name {
                assert!(t.text.starts_with(&format!("@{name} ")));
            }
        }
        // Most tweets have something; every kind shows up often.
        assert!(hashtags > 3000, "{hashtags} hashtags");
        assert!(mentions > 1000, "{mentions} mentions");
        assert!(urls > 300, "{urls} urls");
    }

    #[test]
    fn texts_vary() {
        let tweets = sample(5000);
        let texts: HashSet<&str> = tweets.iter().map(|t| t.text.as_str()).collect();
        assert!(texts.len() > 4500, "only {} distinct texts", texts.len());
        let users: HashSet<u64> = tweets.iter().map(|t| t.user.id).collect();
        assert!(users.len() > 1000, "only {} users", users.len());
        let has = |s: &str| tweets.iter().filter(|t| t.text.contains(s)).count();
        assert!(has("!") > 500);
        assert!(has("?") > 200);
        assert!(tweets
            .iter()
            .any(|t| t.text.chars().any(|c| c as u32 > 0x1F000)));
        // Shouting.
        assert!(tweets.iter().any(|t| t
            .text
            .split(' ')
            .any(|w| w.len() > 4 && w.chars().all(|c| c.is_ascii_uppercase()))));
        assert!(tweets.iter().any(|t| t.user.verified));
        assert!(tweets.iter().any(|t| t.in_reply_to_status_id.is_some()));
    }

    #[test]
    fn vader_sees_positive_negative_and_neutral_tweets() {
        let vader = vader_sentiment::SentimentIntensityAnalyzer::new();
        let (mut pos, mut neg, mut neutral) = (0, 0, 0);
        let (mut lowest, mut highest) = (0.0_f64, 0.0_f64);
        let tweets = sample(2000);
        for t in &tweets {
            let c = vader.polarity_scores(&t.text)["compound"];
            assert!((-1.0..=1.0).contains(&c));
            lowest = lowest.min(c);
            highest = highest.max(c);
            match c {
                c if c >= 0.05 => pos += 1,
                c if c <= -0.05 => neg += 1,
                _ => neutral += 1,
            }
        }
        let n = tweets.len();
        for (what, count) in [("positive", pos), ("negative", neg), ("neutral", neutral)] {
            assert!(count * 10 > n, "{what}: {count} of {n}");
        }
        assert!(lowest < -0.8 && highest > 0.8, "{lowest}..{highest}");
    }

    #[test]
    fn pacing_keeps_every_item() {
        let items: Vec<u32> = paced(0..10, 10_000.0).collect();
        assert_eq!(items, (0..10).collect::<Vec<_>>());
        // Not positive and finite: unpaced.
        let items: Vec<u32> = paced(0..3, 0.0).chain(paced(3..5, f64::NAN)).collect();
        assert_eq!(items, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn below_stays_below() {
        let mut rng = SplitMix64::new(3);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[rng.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert!((0..1000).all(|_| (0.0..1.0).contains(&rng.unit())));
    }
}
