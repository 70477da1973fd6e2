//! The only writer to stdout and stderr. Commands describe what happened; the printer decides
//! how it looks. Results (tables, summaries a person reads) go to stdout with
//! [`Printer::line`]. Diagnostics go to stderr: as text, with a progress bar over the stages
//! when stderr is a terminal (and no bar otherwise), or with `--log-format json` as one JSON
//! object per line (`timestamp`, `level`, `message` or `event` and its fields) for log
//! collectors, ending with a `run_summary` event.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

/// How diagnostics are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for a person, with a progress bar on a terminal.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Writes results to stdout and diagnostics to stderr.
#[derive(Debug, Default)]
pub struct Printer {
    format: LogFormat,
    /// `--quiet`: no notes, no progress (warnings, errors, results and `run_summary` stay).
    quiet: bool,
    progress: Mutex<Option<ProgressBar>>,
}

fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Printer {
    /// A printer writing diagnostics in `format`.
    pub fn new(format: LogFormat) -> Printer {
        Printer { format, quiet: false, progress: Mutex::new(None) }
    }

    /// The same printer, quiet (`--quiet`) or not.
    pub fn quiet(self, quiet: bool) -> Printer {
        Printer { quiet, ..self }
    }

    /// Print one result line to stdout.
    pub fn line(&self, text: impl AsRef<str>) {
        self.suspend(|| {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`ardent schema | head`) is not an error worth a panic.
            let _ = writeln!(out, "{}", text.as_ref());
        });
    }

    /// What happened, on stderr: `text` for a person, or in JSON mode the event `event` with
    /// `fields` (and `text` as its `message`), so that every line a log collector gets is
    /// structured; nothing when quiet.
    pub fn info(&self, event: &str, text: impl AsRef<str>, fields: Value) {
        if self.quiet {
            return;
        }
        match self.format {
            LogFormat::Text => self.suspend(|| {
                let _ = writeln!(std::io::stderr().lock(), "{}", text.as_ref());
            }),
            LogFormat::Json => {
                let mut object = json!({"level": "info", "event": event, "message": text.as_ref()});
                if let (Some(o), Value::Object(f)) = (object.as_object_mut(), fields) {
                    o.extend(f);
                }
                self.json(object);
            }
        }
    }

    /// A warning on stderr, quiet or not.
    pub fn warn(&self, text: impl AsRef<str>) {
        match self.format {
            LogFormat::Text => self.suspend(|| {
                let _ = writeln!(std::io::stderr().lock(), "warning: {}", text.as_ref());
            }),
            LogFormat::Json => self.json(json!({"level": "warn", "event": "warning", "message": text.as_ref()})),
        }
    }

    /// A structured event (`run_summary`, …): a JSON line in JSON mode, nothing in text mode
    /// (where the notes and results already said it).
    pub fn event(&self, name: &str, fields: Value) {
        if self.format == LogFormat::Json {
            let mut object = json!({"level": "info", "event": name});
            if let (Some(o), Value::Object(f)) = (object.as_object_mut(), fields) {
                o.extend(f);
            }
            self.json(object);
        }
    }

    /// The error that ends the command, with its exit code.
    pub fn error(&self, message: &str, exit_code: u8) {
        self.finish();
        match self.format {
            LogFormat::Text => {
                let _ = writeln!(std::io::stderr().lock(), "error: {message}");
            }
            LogFormat::Json => {
                self.json(json!({"level": "error", "event": "error", "message": message, "exit_code": exit_code}))
            }
        }
    }

    /// Start stage `index` of `total` (`ingest`, `analytics`, …): moves the progress bar on a
    /// terminal; a `stage` event in JSON mode.
    pub fn stage(&self, name: &str, index: u64, total: u64) {
        if self.quiet {
            return;
        }
        if self.format == LogFormat::Json {
            self.event("stage", json!({"stage": name, "index": index, "of": total}));
            return;
        }
        let mut guard = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let bar = guard.get_or_insert_with(|| {
            // Hidden (draws nothing) when stderr is not a terminal.
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:24} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_position(index);
        bar.set_message(name.to_string());
    }

    /// What stage `stage` is doing now (`scoring month end 3 of 36 …`): the progress bar's
    /// message on a terminal, a `progress` event in JSON mode; nothing when quiet.
    pub fn step(&self, stage: &str, step: &str) {
        if self.quiet {
            return;
        }
        match self.format {
            LogFormat::Json => self.event("progress", json!({"stage": stage, "step": step})),
            LogFormat::Text => {
                if let Some(bar) = self.progress.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    bar.set_message(format!("{stage}: {step}"));
                }
            }
        }
    }

    /// Remove the progress bar.
    pub fn finish(&self) {
        if let Some(bar) = self.progress.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    /// Run `f` with the progress bar lifted off the terminal, so lines print above it.
    fn suspend(&self, f: impl FnOnce()) {
        let guard = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(bar) if !bar.is_hidden() => bar.suspend(f),
            _ => f(),
        }
    }

    fn json(&self, mut object: Value) {
        if let Some(o) = object.as_object_mut() {
            o.insert("timestamp".into(), Value::String(timestamp()));
        }
        let _ = writeln!(std::io::stderr().lock(), "{object}");
    }
}
