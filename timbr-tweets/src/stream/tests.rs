//! The generator's tests: shapes, determinism, the spread of moods.

use std::collections::HashSet;

use super::*;
use crate::paced;

fn sample(n: usize) -> Vec<Tweet> {
    TweetStream::new(42).take(n).collect()
}

#[test]
fn a_tweet_goes_through_its_json_and_back_unchanged_its_place_included() {
    for tweet in sample(300) {
        let json = serde_json::to_value(&tweet).unwrap();
        assert_eq!(json["seq"], tweet.seq, "the place is in the JSON");
        let back: Tweet = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, tweet);
        // A tweet from elsewhere, without a place: 0, and its JSON stays Twitter's.
        let mut twitters = json;
        twitters.as_object_mut().unwrap().remove("seq");
        let placeless: Tweet = serde_json::from_value(twitters.clone()).unwrap();
        assert_eq!(placeless.seq, 0);
        assert_eq!(serde_json::to_value(&placeless).unwrap(), twitters);
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
        assert!((1..=60).contains(&(t1 - t0)), "{t0} → {t1}");
    }
    let ids: HashSet<u64> = tweets.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), tweets.len());
}

/// The tweets after the first `k`, made one by one from the start (what `skip` did before
/// the stream could jump).
fn stepped(seed: u64, k: u64, n: usize) -> Vec<Tweet> {
    let mut stream = TweetStream::new(seed);
    for _ in 0..k {
        stream.next().unwrap();
    }
    stream.take(n).collect()
}

#[test]
fn a_stream_starts_anywhere_with_the_tweets_it_would_have_made() {
    for seed in [0, 1, 42] {
        for k in [0, 1, 2, 30, 31, 999, 4095, 4096, 25_001] {
            let expected = stepped(seed, k, 40);
            assert_eq!(expected[0].seq, k + 1);
            let jumped: Vec<Tweet> = TweetStream::starting_at(seed, k).take(40).collect();
            assert_eq!(jumped, expected, "seed {seed}, k {k}");
            let skipped: Vec<Tweet> = TweetStream::new(seed).skip(k as usize).take(40).collect();
            assert_eq!(skipped, expected, "seed {seed}, k {k}");
            let mut stream = TweetStream::new(seed);
            assert_eq!(stream.nth(k as usize).as_ref(), Some(&expected[0]));
            assert_eq!(stream.nth(1).as_ref(), Some(&expected[2]));
        }
    }
}

#[test]
fn gaps_span_1_to_60_ms_far_into_the_stream_and_the_stream_ends_without_panicking() {
    let mut gaps = [0u32; 61];
    let far = TweetStream::starting_at(5, 10_000_000_000).take(100_000);
    let times: Vec<u64> = far.map(|t| t.timestamp_ms.parse().unwrap()).collect();
    for pair in times.windows(2) {
        gaps[(pair[1] - pair[0]) as usize] += 1;
    }
    assert_eq!(gaps[0], 0);
    assert!(gaps[1] > 0 && gaps[60] > 0, "{gaps:?}");
    let mean = (times[times.len() - 1] - times[0]) as f64 / (times.len() - 1) as f64;
    assert!((30.0..31.0).contains(&mean), "{mean}");
    // The last tweets whose time a snowflake holds, then the end: no overflow, no panic.
    let last: Vec<Tweet> = TweetStream::starting_at(5, 135_989_466_000).collect();
    assert!(!last.is_empty() && last.len() < 1000, "{}", last.len());
    assert!(last.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(TweetStream::starting_at(5, u64::MAX - 1).next(), None);
    assert_eq!(TweetStream::new(5).nth(usize::MAX), None);
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
