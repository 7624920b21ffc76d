//! Ferry's integration-test harness: real `ferryd` processes on 127.0.0.1.
//!
//! - [`TestNode`] starts one `ferryd` on free ports with its own temporary data and log
//!   directories, waits on `/_health/ready`, and derefs to an [`Http`] client whose calls
//!   answer a [`Resp`] (status, headers, text and parsed JSON). It can `kill -9`, SIGTERM and
//!   restart the process on the same data dir and ports, and prints the node's stderr and
//!   log files when a test panics.
//! - [`Ferryctl`] runs the admin CLI against a node's transport port.
//! - [`es`] holds small helpers for Elasticsearch bodies (error shape, hit ids, NDJSON);
//!   [`ops`] the common set-up steps (create an index, count documents) with their checks;
//!   [`shop`] and [`docs`] the fixtures of the search and document test files.
//! - [`TcpProxy`] forwards TCP and can cut every open connection (network blips).
//! - [`ccr`] the cross-cluster replication helpers (remote set-up, exact document state).
//! - [`wait_until`] is the only way tests wait: a condition polled up to a deadline.
//!
//! Binaries come from `FERRYD_BIN` / `FERRYCTL_BIN`, else from the cargo target directory
//! next to the test executable, built once per test process when missing or stale.
//!
//! Deliberately absent: multi-node clusters (the single-node issue does not need them yet)
//! and any assertion on elapsed time (speed lives in `cargo xtask bench`).

mod binaries;
pub mod ccr;
mod ctl;
pub mod docs;
pub mod es;
mod http;
mod node;
pub mod ops;
mod proxy;
pub mod shop;
mod wait;

pub use binaries::{ferryctl_bin, ferryd_bin, workspace_root};
pub use ctl::{CtlOutput, Ferryctl};
pub use http::{Http, Method, Resp};
pub use node::{NodeBuilder, TestNode};
pub use proxy::TcpProxy;
pub use wait::{wait_for, wait_until};

/// Installs the ring rustls provider once per process (reqwest is built without one).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is equally fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
