//! `ferryd`: the Ferry node daemon.
//!
//! `main` only sequences start-up: the allocator's tunables (`malloc`, which may
//! re-execute the process once), the TLS crypto provider, configuration (`config`),
//! logging (`logging`), the runtime, then `server::run` until a stop signal. It prints one
//! plain error line and exits non-zero when start-up or a server fails: 2 for a bad
//! configuration, 1 for anything else.

mod config;
mod error;
mod grpc;
mod logging;
mod malloc;
mod metrics;
mod node;
mod params;
mod rest;
mod server;

use std::process::ExitCode;
use std::time::Duration;

/// How long the runtime waits for stray blocking tasks once the server has returned.
const RUNTIME_STOP_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    malloc::tune();
    // One TLS provider for the whole process (ring), before anything builds a TLS config.
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        eprintln!("ferryd: error: a TLS crypto provider was installed before ferryd's own");
        return ExitCode::FAILURE;
    }
    let config = match config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferryd: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    ferry_index::set_state_cache_bytes(config.shard_state_cache);
    let _log_guard = match logging::init(&config.log_dir, &config.log_level) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("ferryd: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferryd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferryd: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node_span = tracing::info_span!("ferryd", node = %config.node_name);
    let result = runtime.block_on(tracing::Instrument::instrument(
        server::run(config),
        node_span,
    ));
    runtime.shutdown_timeout(RUNTIME_STOP_TIMEOUT);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: logging::FATAL_TARGET, error = %format!("{e:#}"), "ferryd stopped on an error");
            eprintln!("ferryd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
