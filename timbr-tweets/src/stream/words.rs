//! The word lists the text is made of.

use std::sync::LazyLock;

// Data, not code: one entry per line in `data/*.txt`, in the order they are drawn (a blank
// line is an empty entry: "no description"). Only the two lists whose entries begin or end
// with spaces (`BOOSTERS`, `ENDINGS`) stay here.

/// The entries of a word list: its lines.
fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines().collect()
}

pub(super) static POSITIVE: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/positive.txt")));

pub(super) static NEGATIVE: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/negative.txt")));

pub(super) static NEUTRAL: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/neutral.txt")));

pub(super) static MIXED: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/mixed.txt")));

pub(super) static TOPICS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/topics.txt")));

pub(super) static POSITIVE_WORDS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/positive_words.txt")));

pub(super) static NEGATIVE_WORDS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/negative_words.txt")));

pub(super) const BOOSTERS: &[&str] = &[
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

pub(super) static LOVE: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/love.txt")));
pub(super) static HATE: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/hate.txt")));
pub(super) static WOW: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/wow.txt")));
pub(super) static UGH: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/ugh.txt")));
pub(super) static WHEN: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/when.txt")));
pub(super) static CLOCK: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/clock.txt")));
pub(super) const ENDINGS: &[&str] = &["", "", ".", "!", "!!", "!!!", " lol", "..."];

pub(super) static PLACES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/places.txt")));

pub(super) static POSITIVE_EMOJI: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/positive_emoji.txt")));
pub(super) static NEGATIVE_EMOJI: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/negative_emoji.txt")));
pub(super) static NEUTRAL_EMOJI: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/neutral_emoji.txt")));

pub(super) static HASHTAGS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/hashtags.txt")));

pub(super) static FIRST_NAMES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/first_names.txt")));
pub(super) static LAST_NAMES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/last_names.txt")));
pub(super) static HANDLE_SUFFIXES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/handle_suffixes.txt")));
pub(super) static DESCRIPTIONS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/descriptions.txt")));
pub(super) static SOURCES: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/sources.txt")));
pub(super) static LINK_DOMAINS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/link_domains.txt")));
pub(super) static LINK_PATHS: LazyLock<Vec<&str>> =
    LazyLock::new(|| lines(include_str!("../../data/link_paths.txt")));
pub(super) const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
