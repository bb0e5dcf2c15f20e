//! Progress on stderr: done out of total, failures, rate and time left. On a terminal it is an
//! `indicatif` bar; otherwise (a log file, CI, a pipe) one plain line every few seconds, and
//! one at the end, so a log shows how a run went without a screenful of redraws.
//!
//! It counts what it is told; it knows nothing of jobs, files or NATS.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a plain line is printed: often enough to see a run move, rare enough that an
/// hour-long run writes a few hundred lines.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the bar redraws by itself, so its rate and time left move while nothing ends.
const BAR_TICK: Duration = Duration::from_millis(250);

/// Where progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    /// Plain lines, whatever stderr is.
    Plain,
    /// Nothing (the benchmark).
    Hidden,
}

/// The counts of one run.
struct Counts {
    label: String,
    total: Option<u64>,
    /// Lines that were there before this run started (a resumed run).
    already: u64,
    done: AtomicU64,
    failed: AtomicU64,
    started: Instant,
    stop: Mutex<bool>,
    stopped: Condvar,
}

impl Counts {
    /// `iam-host batch: 120/300 done, 3 failed, 45.2/s, about 4 s left`.
    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done.saturating_sub(self.already) as f64 / elapsed;
        let mut line = match self.total {
            Some(total) => format!("{}: {done}/{total} done", self.label),
            None => format!("{}: {done} done", self.label),
        };
        line.push_str(&format!(", {failed} failed, {rate:.1}/s"));
        if let Some(total) = self.total
            && rate > 0.0
            && done < total
        {
            let left = (total - done) as f64 / rate;
            line.push_str(&format!(", about {} left", human_seconds(left)));
        }
        line
    }
}

fn human_seconds(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// The progress of one run, shown while it lasts.
pub struct Progress {
    counts: Arc<Counts>,
    bar: Option<ProgressBar>,
    printer: Mutex<Option<JoinHandle<()>>>,
}

impl Progress {
    /// Start showing progress. `already` lines (of which `already_failed` failed) were done
    /// before this run; the rate counts only this run's.
    pub fn start(
        label: &str,
        total: Option<u64>,
        already: u64,
        already_failed: u64,
        display: Display,
    ) -> Progress {
        let counts = Arc::new(Counts {
            label: label.to_string(),
            total,
            already,
            done: AtomicU64::new(already),
            failed: AtomicU64::new(already_failed),
            started: Instant::now(),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
        });
        let terminal = std::io::stderr().is_terminal();
        let mut progress = Progress {
            counts: counts.clone(),
            bar: None,
            printer: Mutex::new(None),
        };
        match display {
            Display::Hidden => {}
            Display::Auto if terminal => progress.bar = Some(bar(&counts)),
            Display::Auto | Display::Plain => {
                progress.printer = Mutex::new(
                    std::thread::Builder::new()
                        .name("iam-host-progress".into())
                        .spawn(move || print_plain(&counts))
                        .ok(),
                );
            }
        }
        progress
    }

    /// One more line written; `failed` when its `exit` is not 0.
    pub fn record(&self, failed: bool) {
        self.counts.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!(
                "{} failed",
                self.counts.failed.load(Ordering::Relaxed)
            ));
        }
    }

    /// A message for the person watching (a lost connection, a retry), above the bar when
    /// there is one.
    /// One line for people, cut at [`MAX_NOTE_CHARS`]: a note may quote a job's id or command,
    /// which a hostile job can make a megabyte long.
    pub fn note(&self, message: &str) {
        let message = bounded(message);
        match &self.bar {
            Some(bar) => bar.println(message),
            None => crate::diagnostic(&message),
        }
    }

    pub fn done(&self) -> u64 {
        self.counts.done.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Stop showing progress (once; later calls do nothing): the bar stays as it ended, and
    /// plain output ends with a last line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish();
        }
        let printer = self
            .printer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(printer) = printer {
            let mut stop = self
                .counts
                .stop
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *stop = true;
            drop(stop);
            self.counts.stopped.notify_all();
            // The printer only prints; a panic there has nothing to hand back.
            printer.join().ok();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn bar(counts: &Counts) -> ProgressBar {
    let template = match counts.total {
        Some(_) => "{prefix} {wide_bar} {pos}/{len}, {msg}, {rate}, eta {eta} ({elapsed})",
        None => "{prefix} {spinner} {pos} done, {msg}, {rate} ({elapsed})",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                // A bar that cannot be drawn has nowhere to report to.
                write!(out, "{:.1}/s", state.per_sec()).ok();
            },
        )
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(counts.total, ProgressDrawTarget::stderr())
        .with_style(style)
        .with_prefix(counts.label.clone())
        .with_message(format!("{} failed", counts.failed.load(Ordering::Relaxed)));
    bar.set_position(counts.already);
    // The rate and time left are this run's, not the resumed lines'.
    bar.reset_eta();
    bar.enable_steady_tick(BAR_TICK);
    bar
}

/// A plain line every `PLAIN_EVERY` while the counts move, and one at the end.
fn print_plain(counts: &Counts) {
    let mut last_done = counts.done.load(Ordering::Relaxed);
    let mut stop = counts
        .stop
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let (guard, _) = counts
            .stopped
            .wait_timeout(stop, PLAIN_EVERY)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stop = guard;
        if *stop {
            crate::diagnostic(&counts.line());
            return;
        }
        let done = counts.done.load(Ordering::Relaxed);
        if done != last_done || counts.total.is_some() {
            crate::diagnostic(&counts.line());
            last_done = done;
        }
    }
}

/// The most characters of one note printed.
const MAX_NOTE_CHARS: usize = 2_000;

/// `message`, or its first [`MAX_NOTE_CHARS`] characters and how long it was.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_NOTE_CHARS) {
        None => message.to_string(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &message[..at], message.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: Option<u64>, already: u64) -> Counts {
        Counts {
            label: "iam-host batch".into(),
            total,
            already,
            done: AtomicU64::new(already),
            failed: AtomicU64::new(0),
            started: Instant::now() - Duration::from_secs(10),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
        }
    }

    #[test]
    fn a_plain_line_shows_done_failures_rate_and_time_left() {
        let counts = counts(Some(300), 100);
        counts.done.store(200, Ordering::Relaxed);
        counts.failed.store(3, Ordering::Relaxed);
        let line = counts.line();
        // 100 done in this run's 10 s: 10/s, 100 left.
        assert!(
            line.starts_with("iam-host batch: 200/300 done, 3 failed, 10.0/s, about "),
            "{line}"
        );
        assert!(line.ends_with(" s left"), "{line}");
    }

    #[test]
    fn a_finished_or_open_ended_run_shows_no_time_left() {
        let finished = counts(Some(5), 0);
        finished.done.store(5, Ordering::Relaxed);
        assert!(!finished.line().contains("left"));
        let worker = counts(None, 0);
        assert!(
            worker
                .line()
                .starts_with("iam-host batch: 0 done, 0 failed, 0.0/s")
        );
    }

    #[test]
    fn seconds_read_as_minutes_and_hours() {
        assert_eq!(human_seconds(4.2), "4 s");
        assert_eq!(human_seconds(125.0), "2 min 5 s");
        assert_eq!(human_seconds(7300.0), "2 h 1 min");
    }

    #[test]
    fn hidden_progress_still_counts() {
        let progress = Progress::start("x", Some(3), 1, 0, Display::Hidden);
        progress.record(false);
        progress.record(true);
        assert_eq!((progress.done(), progress.failed()), (3, 1));
        progress.finish();
    }

    #[test]
    fn a_note_is_cut_at_its_bound_and_says_how_long_it_was() {
        assert_eq!(bounded("short"), "short");
        let long = format!("job {} failed", "é".repeat(600_000));
        let cut = bounded(&long);
        assert_eq!(
            cut.chars().count(),
            MAX_NOTE_CHARS + "… (1200011 bytes in all)".chars().count()
        );
        assert!(
            cut.starts_with("job éé") && cut.ends_with("… (1200011 bytes in all)"),
            "{}",
            &cut[cut.len() - 40..]
        );
    }
}
