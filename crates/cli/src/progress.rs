//! Progress bars on standard error: drawn on a terminal, silent otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over the bytes of an input, showing rows and rows/s.
pub struct Bar {
    bar: ProgressBar,
    rows: AtomicU64,
    started: Instant,
}

impl Bar {
    /// A bar for `total` bytes (unknown if `None`) labelled `what`.
    pub fn bytes(total: Option<u64>, what: &str) -> Self {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = if total.is_some() {
            "{prefix} [{bar:30}] {percent:>3}% {msg} · ETA {eta}"
        } else {
            "{prefix} {spinner} {bytes} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_owned());
        Self { bar, rows: AtomicU64::new(0), started: Instant::now() }
    }

    /// Ends the bar and clears it.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl probity_registry::Progress for Bar {
    fn advance(&self, bytes: u64, rows: u64) {
        let rows = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.inc(bytes);
        self.bar.set_message(format!("{rows} rows · {:.0} rows/s", rows as f64 / secs));
    }
}
