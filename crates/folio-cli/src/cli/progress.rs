//! Progress bars on stderr, shown only for work that lasts over a second
//! and only when stderr is a terminal: bytes with their rate, or items,
//! and for transfers the objects moved.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use folio_core::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const DELAY: Duration = Duration::from_secs(1);

/// The phase being drawn.
struct Phase {
    bar: ProgressBar,
    start: Instant,
    shown: bool,
    what: String,
    objects: u64,
}

/// An indicatif bar that appears after [`DELAY`].
pub struct Bar {
    enabled: bool,
    state: Mutex<Option<Phase>>,
}

impl Bar {
    pub fn new(enabled: bool) -> Self {
        Bar {
            enabled,
            state: Mutex::new(None),
        }
    }

    fn start(&self, what: &str, total: u64, template: &str) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(Phase {
            bar,
            start: Instant::now(),
            shown: false,
            what: what.to_string(),
            objects: 0,
        });
    }
}

impl Progress for Bar {
    fn begin(&self, what: &str, total: u64) {
        self.start(
            what,
            total,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        );
    }

    fn begin_items(&self, what: &str, total: u64) {
        self.start(
            what,
            total,
            "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
        );
    }

    fn advance(&self, n: u64) {
        if !self.enabled {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = st.as_mut() {
            p.bar.inc(n);
            if !p.shown && p.start.elapsed() > DELAY {
                p.bar.set_draw_target(ProgressDrawTarget::stderr());
                p.shown = true;
            }
        }
    }

    fn objects(&self, n: u64) {
        if !self.enabled {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = st.as_mut() {
            p.objects += n;
            p.bar
                .set_message(format!("{} ({} objects)", p.what, p.objects));
        }
    }

    fn end(&self) {
        if let Some(p) = self.state.lock().unwrap_or_else(|e| e.into_inner()).take() {
            p.bar.finish_and_clear();
        }
    }
}
