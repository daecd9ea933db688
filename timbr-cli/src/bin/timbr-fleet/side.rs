//! What `dead` and `failures` share: the commands of a side stream (the dead letters, the
//! failures), whose entries are listed as a table or JSON lines, each named by its id in
//! that stream, and purged by id or all at once. What differs stays with each: how an entry
//! goes back to the queue (`dead requeue`, `failures replay`), which failures a command
//! picks, and the confirmation a failures purge asks for.

use std::io::{BufRead, Write};

use anyhow::Context;
use serde::Serialize;
use timbr_cli::Exit;

/// One side stream, as its commands show it.
pub(crate) trait Side {
    /// An entry of the stream, as the library reads it.
    type Entry: Serialize;
    /// What its entries are called (`dead letters`).
    const NOUN: &'static str;
    /// The table's header, tab-separated.
    const HEADER: &'static str;
    /// One entry as a line of the table (long fields [`clip`]ped).
    fn row(entry: &Self::Entry) -> String;
}

/// Prints `entries` as the table (or, with `json`, as one JSON object a line, every field
/// whole); with no entries, says so on stderr, naming `stream`.
pub(crate) fn list<S: Side>(entries: &[&S::Entry], json: bool, stream: &str) -> anyhow::Result<()> {
    if json {
        for e in entries {
            println!("{}", serde_json::to_string(e)?);
        }
    } else if entries.is_empty() {
        eprintln!("no {} on `{stream}`", S::NOUN);
    } else {
        println!("{}", S::HEADER);
        for e in entries {
            println!("{}", S::row(e));
        }
    }
    Ok(())
}

/// Which entries a purge drops: the ids named, or (`all`) every one there is now.
pub(crate) enum Purge<'a> {
    /// These ids, as `list` names them.
    Ids(&'a [String]),
    /// Every entry there is now (that the command picks).
    All,
}

impl<'a> Purge<'a> {
    /// The ids, or all of them when `all` (clap lets only one of the two be given).
    pub(crate) fn new(ids: &'a [String], all: bool) -> Self {
        if all {
            Purge::All
        } else {
            Purge::Ids(ids)
        }
    }

    /// Drops them from `fleet` (`by_id` or `all`); how many, and how the command ends:
    /// failed when an id named was not there (purged or requeued meanwhile, or never was).
    pub(crate) fn run<F>(
        &self,
        fleet: &mut F,
        by_id: impl FnOnce(&mut F, &[&str]) -> anyhow::Result<u64>,
        all: impl FnOnce(&mut F) -> anyhow::Result<u64>,
    ) -> anyhow::Result<(u64, Exit)> {
        match self {
            Purge::All => Ok((all(fleet)?, Exit::Success)),
            Purge::Ids(ids) => {
                let names: Vec<&str> = ids.iter().map(String::as_str).collect();
                let purged = by_id(fleet, &names)?;
                let every = purged >= ids.len() as u64;
                Ok((purged, if every { Exit::Success } else { Exit::Failed }))
            }
        }
    }
}

/// Asks `question` on stderr and reads the answer from stdin: yes only for `y` or `yes`.
/// An empty stdin (closed, `< /dev/null`) answers no.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// `s` on one line, at most `shown` characters (the last an ellipsis when it was longer).
pub(crate) fn clip(s: &str, shown: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= shown {
        one_line
    } else {
        let mut out: String = one_line.chars().take(shown.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clipped_field_is_one_line_of_at_most_shown_characters() {
        assert_eq!(clip("a\tb\nc", 10), "a b c");
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(clip("abcdefg", 6), "abcde…");
        assert_eq!(clip("ééééééé", 3).chars().count(), 3);
    }

    #[test]
    fn a_purge_by_id_fails_when_one_was_not_there() {
        let ids = ["1-0".to_owned(), "2-0".to_owned()];
        let purge = Purge::new(&ids, false);
        let all = |_: &mut ()| -> anyhow::Result<u64> { unreachable!("by id") };
        let (n, exit) = purge
            .run(&mut (), |_, names| Ok(names.len() as u64), all)
            .unwrap();
        assert_eq!((n, exit), (2, Exit::Success));
        let (n, exit) = purge.run(&mut (), |_, _| Ok(1), all).unwrap();
        assert_eq!((n, exit), (1, Exit::Failed));
        let (n, exit) = Purge::new(&ids, true)
            .run(&mut (), |_, _| unreachable!("all"), |_| Ok(0))
            .unwrap();
        assert_eq!((n, exit), (0, Exit::Success));
    }
}
