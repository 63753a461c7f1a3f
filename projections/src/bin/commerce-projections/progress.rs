//! A replay's progress for the operator: a bar on a terminal (events/s, position, ETA), a log
//! line every few seconds otherwise (CI, `kubectl logs`).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use projections::runtime::{Progress, ProgressSink};

/// How often a line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Shows one build's progress.
pub struct Reporter {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    verb: &'static str,
    bar: Option<ProgressBar>,
    started: Instant,
    /// When the last line was printed and the events then.
    last_line: Mutex<(Instant, u64)>,
}

impl Reporter {
    /// A reporter for `verb` (replay, verify, rollback) of model `name`.
    pub fn new(name: &str, verb: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] position {pos}/{len} · {msg} · {elapsed_precise} · ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{verb} {name}"));
            bar
        });
        Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                verb,
                bar,
                started: Instant::now(),
                last_line: Mutex::new((Instant::now(), 0)),
            }),
        }
    }

    /// The callback the runtime calls after every page.
    pub fn sink(&self) -> ProgressSink {
        let inner = Arc::clone(&self.inner);
        Arc::new(move |progress: Progress| inner.show(progress))
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.finish_and_clear();
        }
    }
}

impl Inner {
    fn show(&self, progress: Progress) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = progress.events as f64 / elapsed;
        let phase = if progress.switching {
            ", switching"
        } else {
            ""
        };
        if let Some(bar) = &self.bar {
            bar.set_length(progress.head);
            bar.set_position(progress.position);
            bar.set_message(format!(
                "{} events, {rate:.0} events/s{phase}",
                progress.events
            ));
            return;
        }
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        if last.0.elapsed() < LINE_EVERY && !progress.switching {
            return;
        }
        let recent = (progress.events - last.1.min(progress.events)) as f64
            / last.0.elapsed().as_secs_f64().max(1e-3);
        *last = (Instant::now(), progress.events);
        let left = progress.head.saturating_sub(progress.position);
        let per_position = progress.position.max(1) as f64 / elapsed;
        eprintln!(
            "{} {} g{}: position {}/{}, {} events, {recent:.0} events/s, ETA {:.0} s{phase}",
            self.verb,
            self.name,
            progress.generation,
            progress.position,
            progress.head,
            progress.events,
            left as f64 / per_position
        );
    }
}
