//! Logging set-up: `tracing` events to `<log-dir>/ferryd.YYYY-MM-DD.log` (daily rotation, 14
//! files kept, written by a background thread so a slow disk never blocks a request) and to
//! stderr.
//!
//! Only the subscriber lives here; spans carrying the node name are opened by `server.rs`
//! around each server and request. Nothing here decides what is worth logging.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// Target of the one event `main` writes when ferryd stops on an error. It goes to the log
/// file only: `main` prints the same error to stderr itself, as one plain line.
pub const FATAL_TARGET: &str = "ferryd::fatal";

/// Daily files kept (`ferryd.YYYY-MM-DD.log`); older ones are deleted at rotation.
const MAX_LOG_FILES: usize = 14;

/// Installs the global subscriber. Keep the guard alive until exit: dropping it flushes
/// the file writer.
pub fn init(log_dir: &Path, filter: &str) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir)
        .with_context(|| format!("cannot create the log directory {}", log_dir.display()))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("ferryd")
        .filename_suffix("log")
        .max_log_files(MAX_LOG_FILES)
        .build(log_dir)
        .with_context(|| format!("cannot open a log file in {}", log_dir.display()))?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_new(filter).with_context(|| format!("invalid log filter [{filter}]"))?;

    let file = fmt::layer()
        .with_writer(file_writer)
        .with_ansi(false)
        .with_target(true);
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .with_filter(filter_fn(|meta| meta.target() != FATAL_TARGET));
    tracing_subscriber::registry()
        .with(filter)
        .with(file)
        .with(stderr)
        .try_init()
        .context("a logger is already installed")?;
    Ok(guard)
}
