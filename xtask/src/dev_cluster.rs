//! `cargo xtask dev-cluster`: one `ferryd` for development, data under
//! `target/dev-cluster/node-1` (kept between runs), logs on the terminal.
//!
//! Ctrl-C (or SIGTERM to xtask) is forwarded to the node as one SIGTERM, and xtask waits for
//! its clean exit. Two-cluster mode (`--ccr`) waits for cross-cluster replication.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::ferryd::{self, Ferryd, Output};

/// How long a node may take to become ready, and to stop.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Build and run the debug binary (faster to build, slower to run)
    #[arg(long)]
    debug: bool,
    /// Two clusters with cross-cluster replication (not supported yet)
    #[arg(long)]
    ccr: bool,
    /// REST port
    #[arg(long, default_value_t = 9200)]
    http_port: u16,
    /// gRPC admin port
    #[arg(long, default_value_t = 9300)]
    transport_port: u16,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.ccr {
        eprintln!("xtask: two-cluster mode is not supported yet");
        return Ok(ExitCode::from(2));
    }
    let bin = ferryd::build(!args.debug)?;
    let data_dir = ferryd::target_dir().join("dev-cluster").join("node-1");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?
        .block_on(serve(bin, data_dir, args))
}

async fn serve(
    bin: std::path::PathBuf,
    data_dir: std::path::PathBuf,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut node = Ferryd::spawn(
        &bin,
        &data_dir,
        args.http_port,
        args.transport_port,
        Output::Inherit,
    )?;
    let client = crate::bench::http_client()?;
    tokio::select! {
        ready = node.wait_ready(&client, READY_TIMEOUT) => ready?,
        _ = int.recv() => return stop(&mut node).await,
        _ = term.recv() => return stop(&mut node).await,
    }
    let http = node.base_url.clone();
    println!();
    println!(
        "ferry dev cluster: 1 node (pid {}), data in {}",
        node.pid(),
        data_dir.display()
    );
    println!("  REST (HTTP)       {http}");
    println!("  transport (gRPC)  {}", node.transport);
    println!("  health            {http}/_health/ready");
    println!("  metrics           {http}/metrics");
    println!(
        "  try:  curl -s -XPUT '{http}/demo' -H 'content-type: application/json' -d '{{\"settings\":{{\"number_of_replicas\":0}}}}'"
    );
    println!(
        "        curl -s -XPOST '{http}/demo/_doc/1?refresh=true' -H 'content-type: application/json' -d '{{\"title\":\"hello ferry\"}}'"
    );
    println!("        curl -s '{http}/demo/_search?q=title:hello&pretty'");
    println!(
        "  ferryctl:  cargo run -q -p ferryctl -- --endpoint http://{} health",
        node.transport
    );
    println!("Ctrl-C stops it.");
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = int.recv() => return stop(&mut node).await,
            _ = term.recv() => return stop(&mut node).await,
            _ = poll.tick() => {
                if let Some(status) = node.try_exit()? {
                    eprintln!("xtask: ferryd exited by itself ({status})");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
}

async fn stop(node: &mut Ferryd) -> anyhow::Result<ExitCode> {
    eprintln!("\nxtask: stopping ferryd (SIGTERM), waiting for it to flush");
    node.terminate()?;
    let status = node.wait_exit(STOP_TIMEOUT).await?;
    if status.success() {
        eprintln!("xtask: ferryd stopped cleanly");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("xtask: ferryd exited with {status}");
        Ok(ExitCode::FAILURE)
    }
}
