//! The progress plugin's terminal bar: an [`indicatif`] bar on stderr, made when the machine
//! starts (only where it would be drawn), moved on every tick, and left on screen at the end.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Progress, ProgressFields};
use crate::Status;

/// The bar's layout: `[=====>    ] 4,500/10,000 45%  1.2k/s  ETA 4s`.
const BAR_TEMPLATE: &str = "{prefix}[{bar:30}] {human_pos}/{human_len} {percent:>3}%  {msg}";

impl Progress {
    /// Makes the bar on `target`, unless nothing would be drawn there.
    pub(super) fn start_on(&self, target: ProgressDrawTarget, status: &Status) {
        if target.is_hidden() {
            // Not a terminal: nothing would be drawn, so nothing is made.
            return;
        }
        let style = ProgressStyle::with_template(BAR_TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let prefix = match &self.message {
            Some(m) => format!("{m} "),
            None => String::new(),
        };
        let bar = ProgressBar::with_draw_target(Some(self.total), target)
            .with_style(style)
            .with_prefix(prefix);
        self.update(&bar, &self.compute(status), status.uptime);
        // A bar left from an earlier run is dropped, which clears it.
        *self.drawn.lock() = Some(bar);
    }

    /// Brings the bar (if one is drawn) up to date with `fields`.
    pub(super) fn update(&self, bar: &ProgressBar, fields: &ProgressFields, uptime: Duration) {
        bar.set_length(fields.total);
        bar.set_position(fields.done.min(fields.total));
        bar.set_elapsed(uptime);
        bar.set_message(fields.bar_message(true));
    }
}

#[cfg(test)]
mod tests {
    use parking_lot::Mutex;

    use super::*;
    use crate::observe::progress::tests::status;
    use crate::StatusPlugin;

    /// A terminal that keeps what is written to it.
    #[derive(Clone, Debug, Default)]
    struct Screen(std::sync::Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut screen = self.0.lock();
            screen.push_str(s);
            screen.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.lock().clear();
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn shows(&self) -> String {
            self.0.lock().trim_end().to_owned()
        }
    }

    #[test]
    fn a_bar_follows_the_machine_in_a_terminal() {
        let screen = Screen::default();
        let progress = Progress::new(10).message("tweets");
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        progress.start_on(target, &status(2, 0, 0, 1.0, 1.0));
        assert!(
            screen.shows().starts_with("tweets [======>"),
            "{}",
            screen.shows()
        );
        assert!(
            screen.shows().contains("] 2/10  20%  1.0/s  ETA 8s"),
            "{}",
            screen.shows()
        );

        progress.tick(&status(5, 1, 0, 1.0, 1.0));
        {
            let drawn = progress.drawn.lock();
            let bar = drawn.as_ref().unwrap();
            assert_eq!((bar.position(), bar.length()), (6, Some(10)));
        }
        assert!(
            screen
                .shows()
                .contains("6/10  60%  1.0/s  ETA 4s  1 failed"),
            "{}",
            screen.shows()
        );

        progress.stopped(&status(7, 0, 0, 1.0, 1.0));
        assert!(progress.drawn.lock().is_none());
        assert!(
            screen.shows().ends_with("7/10  70%  1.0/s  stopped"),
            "{}",
            screen.shows()
        );

        progress.start_on(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            &status(7, 0, 0, 1.0, 1.0),
        );
        progress.stopped(&status(10, 0, 0, 1.0, 1.0));
        assert!(
            screen.shows().ends_with("10/10 100%  1.0/s  done"),
            "{}",
            screen.shows()
        );
    }

    #[test]
    fn no_bar_is_made_where_nothing_would_be_drawn() {
        let progress = Progress::new(10);
        progress.start_on(ProgressDrawTarget::hidden(), &status(2, 0, 0, 1.0, 1.0));
        assert!(progress.drawn.lock().is_none());
    }
}
