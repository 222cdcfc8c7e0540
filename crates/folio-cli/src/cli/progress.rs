//! Progress bars on stderr, shown only for work that lasts over a second
//! and only when stderr is a terminal.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use folio_core::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const DELAY: Duration = Duration::from_secs(1);

/// An indicatif bar that appears after [`DELAY`].
pub struct Bar {
    enabled: bool,
    state: Mutex<Option<(ProgressBar, Instant, bool)>>,
}

impl Bar {
    pub fn new(enabled: bool) -> Self {
        Bar {
            enabled,
            state: Mutex::new(None),
        }
    }
}

impl Progress for Bar {
    fn begin(&self, what: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((bar, Instant::now(), false));
    }

    fn advance(&self, n: u64) {
        if !self.enabled {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bar, start, shown)) = st.as_mut() {
            bar.inc(n);
            if !*shown && start.elapsed() > DELAY {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                *shown = true;
            }
        }
    }

    fn end(&self) {
        if let Some((bar, _, _)) = self.state.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
