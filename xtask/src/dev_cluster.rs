//! `cargo xtask dev-cluster`: `ferryd` nodes for development, data kept between runs under
//! `target/dev-cluster/`.
//!
//! - Default: one node (`ferry-dev`/`dev-1`), data in `target/dev-cluster/node-1`, output on
//!   the terminal.
//! - `--ccr`: the two clusters of Elasticsearch's cross-cluster replication tutorial,
//!   `us-cluster` (REST 9200, transport 9300) and `japan-cluster` (REST 8200, transport
//!   8300), one node each, data in `target/dev-cluster/<cluster>/data` and logs (ferryd's
//!   files plus its console output, `console.log`) in `target/dev-cluster/<cluster>/logs`.
//!
//! Ctrl-C or SIGTERM to xtask sends every node one SIGTERM and waits for its clean exit. A
//! node that exits by itself makes xtask stop the others and fail, showing its last lines.
//! Deliberately not here: the follow APIs (`_ccr/follow`, auto-follow) — ferryd does not
//! serve them yet, so `--ccr` prints only the tutorial step that works today.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::signal::unix::{SignalKind, signal};

use crate::ferryd::{self, Ferryd, Identity, Output};

/// How long a node may take to become ready, and to stop.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Build and run the debug binary (faster to build, slower to run)
    #[arg(long)]
    debug: bool,
    /// Two clusters, us-cluster and japan-cluster, for the cross-cluster replication tutorial
    #[arg(long)]
    ccr: bool,
    /// REST port (us-cluster's with --ccr)
    #[arg(long, default_value_t = 9200)]
    http_port: u16,
    /// gRPC admin (transport) port (us-cluster's with --ccr)
    #[arg(long, default_value_t = 9300)]
    transport_port: u16,
    /// japan-cluster's REST port (--ccr only)
    #[arg(long, default_value_t = 8200, requires = "ccr")]
    japan_http_port: u16,
    /// japan-cluster's gRPC admin (transport) port (--ccr only)
    #[arg(long, default_value_t = 8300, requires = "ccr")]
    japan_transport_port: u16,
}

/// One node to start: who it is, where its files go, which ports it binds.
struct NodeSpec {
    /// How xtask names the node in messages: `ferryd`, or its cluster with `--ccr`.
    label: &'static str,
    cluster_name: &'static str,
    node_name: &'static str,
    data_dir: PathBuf,
    /// `Some`: `--log-dir`, and the node's console output goes to `console.log` in it.
    /// `None`: ferryd's default log dir, console output on the terminal.
    log_dir: Option<PathBuf>,
    http_port: u16,
    transport_port: u16,
}

/// A started node.
struct Node {
    spec: NodeSpec,
    ferryd: Ferryd,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ferryd::target_dir().join("dev-cluster");
    let specs = if args.ccr {
        ccr_specs(&root, &args)?
    } else {
        vec![NodeSpec {
            label: "ferryd",
            cluster_name: Identity::DEV.cluster_name,
            node_name: Identity::DEV.node_name,
            data_dir: root.join("node-1"),
            log_dir: None,
            http_port: args.http_port,
            transport_port: args.transport_port,
        }]
    };
    let bin = ferryd::build(!args.debug)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?
        .block_on(serve(&bin, specs))
}

/// The tutorial's two clusters, one node each, with distinct ports.
fn ccr_specs(root: &Path, args: &Args) -> anyhow::Result<Vec<NodeSpec>> {
    let ports = [
        args.http_port,
        args.transport_port,
        args.japan_http_port,
        args.japan_transport_port,
    ];
    for (i, p) in ports.iter().enumerate() {
        if ports[..i].contains(p) {
            bail!("--ccr needs four distinct ports, but {p} is given twice");
        }
    }
    let node = |cluster: &'static str, node_name, http_port, transport_port| NodeSpec {
        label: cluster,
        cluster_name: cluster,
        node_name,
        data_dir: root.join(cluster).join("data"),
        log_dir: Some(root.join(cluster).join("logs")),
        http_port,
        transport_port,
    };
    Ok(vec![
        node(
            "us-cluster",
            "us-node-1",
            args.http_port,
            args.transport_port,
        ),
        node(
            "japan-cluster",
            "japan-node-1",
            args.japan_http_port,
            args.japan_transport_port,
        ),
    ])
}

/// Creates the node's directories and starts it.
fn start_node(bin: &Path, spec: NodeSpec) -> anyhow::Result<Node> {
    let mut dirs = vec![&spec.data_dir];
    dirs.extend(&spec.log_dir);
    for dir in dirs {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let output = match &spec.log_dir {
        Some(dir) => Output::File(dir.join("console.log")),
        None => Output::Inherit,
    };
    let id = Identity {
        cluster_name: spec.cluster_name,
        node_name: spec.node_name,
        log_dir: spec.log_dir.as_deref(),
    };
    let ferryd = Ferryd::spawn_as(
        bin,
        &spec.data_dir,
        spec.http_port,
        spec.transport_port,
        output,
        &id,
    )
    .with_context(|| format!("cannot start the {} node", spec.label))?;
    Ok(Node { spec, ferryd })
}

async fn serve(bin: &Path, specs: Vec<NodeSpec>) -> anyhow::Result<ExitCode> {
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut nodes = Vec::with_capacity(specs.len());
    for spec in specs {
        match start_node(bin, spec) {
            Ok(node) => nodes.push(node),
            Err(e) => {
                stop_all(&mut nodes).await?;
                return Err(e);
            }
        }
    }
    let client = crate::bench::http_client()?;
    tokio::select! {
        ready = wait_all_ready(&mut nodes, &client) => {
            if let Err(e) = ready {
                stop_all(&mut nodes).await?;
                return Err(e);
            }
        }
        _ = int.recv() => return stop_all(&mut nodes).await,
        _ = term.recv() => return stop_all(&mut nodes).await,
    }
    match nodes.as_slice() {
        [node] => print_single(node),
        _ => print_ccr(&nodes),
    }
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = int.recv() => return stop_all(&mut nodes).await,
            _ = term.recv() => return stop_all(&mut nodes).await,
            _ = poll.tick() => {
                for i in 0..nodes.len() {
                    let node = &mut nodes[i];
                    if let Some(status) = node.ferryd.try_exit()? {
                        eprintln!(
                            "xtask: the {} node exited by itself ({status}){}",
                            node.spec.label,
                            node.ferryd.output_tail()
                        );
                        stop_all(&mut nodes).await?;
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        }
    }
}

/// Waits for each node's `/_health/ready`, in start order.
async fn wait_all_ready(nodes: &mut [Node], client: &reqwest::Client) -> anyhow::Result<()> {
    for node in nodes {
        node.ferryd
            .wait_ready(client, READY_TIMEOUT)
            .await
            .with_context(|| format!("the {} node did not start", node.spec.label))?;
    }
    Ok(())
}

/// Sends SIGTERM to every node still running, then waits for each. Success only if every
/// node it stopped exited cleanly.
async fn stop_all(nodes: &mut [Node]) -> anyhow::Result<ExitCode> {
    let mut running = Vec::new();
    for node in nodes.iter_mut() {
        if node.ferryd.try_exit()?.is_none() {
            eprintln!(
                "xtask: stopping the {} node (SIGTERM), waiting for it to flush",
                node.spec.label
            );
            node.ferryd.terminate()?;
            running.push(node);
        }
    }
    let mut code = ExitCode::SUCCESS;
    for node in running {
        let status = node.ferryd.wait_exit(STOP_TIMEOUT).await?;
        if status.success() {
            eprintln!("xtask: the {} node stopped cleanly", node.spec.label);
        } else {
            eprintln!(
                "xtask: the {} node exited with {status}{}",
                node.spec.label,
                node.ferryd.output_tail()
            );
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

fn print_single(node: &Node) {
    let http = &node.ferryd.base_url;
    println!();
    println!(
        "ferry dev cluster: 1 node (pid {}), data in {}",
        node.ferryd.pid(),
        node.spec.data_dir.display()
    );
    println!("  REST (HTTP)       {http}");
    println!("  transport (gRPC)  {}", node.ferryd.transport);
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
        node.ferryd.transport
    );
    println!("Ctrl-C stops it.");
}

/// The endpoints of both clusters and the tutorial's step 2 (define the remote cluster on
/// the follower side), the first step ferryd serves today.
fn print_ccr(nodes: &[Node]) {
    println!();
    println!("ferry dev clusters for the cross-cluster replication tutorial (one node each)");
    for node in nodes {
        let s = &node.spec;
        println!(
            "  {:<14} REST {}  transport {}  node {} (pid {})",
            s.label,
            node.ferryd.base_url,
            node.ferryd.transport,
            s.node_name,
            node.ferryd.pid()
        );
        println!("  {:<14} data {}", "", s.data_dir.display());
        if let Some(logs) = &s.log_dir {
            println!("  {:<14} logs {}", "", logs.display());
        }
    }
    if let [leader, follower, ..] = nodes {
        let remote = leader.spec.cluster_name;
        let seed = leader.ferryd.transport;
        let http = &follower.ferryd.base_url;
        println!(
            "  step 2: on {}, define {remote} as a remote cluster",
            follower.spec.label
        );
        println!(
            "    curl -XPUT {http}/_cluster/settings -H 'content-type: application/json' -d '{{\"persistent\":{{\"cluster\":{{\"remote\":{{\"{remote}\":{{\"seeds\":[\"{seed}\"]}}}}}}}}}}'"
        );
        println!("    curl '{http}/_remote/info?pretty'");
    }
    println!(
        "  then the tutorial's follow, auto-follow and admin calls: README.md, under `cargo xtask dev-cluster --ccr`"
    );
    println!("Ctrl-C stops both.");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("dev-cluster").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn ccr_uses_the_tutorial_ports_and_names() {
        let args = parse(&["--ccr"]).expect("valid flags");
        let specs = ccr_specs(Path::new("/t"), &args).expect("distinct ports");
        let got: Vec<_> = specs
            .iter()
            .map(|s| (s.cluster_name, s.http_port, s.transport_port))
            .collect();
        assert_eq!(
            got,
            [("us-cluster", 9200, 9300), ("japan-cluster", 8200, 8300)]
        );
        assert_eq!(specs[1].data_dir, Path::new("/t/japan-cluster/data"));
        assert_eq!(
            specs[1].log_dir.as_deref(),
            Some(Path::new("/t/japan-cluster/logs"))
        );
    }

    #[test]
    fn ccr_refuses_a_port_given_twice() {
        let args = parse(&["--ccr", "--japan-http-port", "9300"]).expect("valid flags");
        assert!(ccr_specs(Path::new("/t"), &args).is_err());
    }

    #[test]
    fn japan_ports_need_ccr() {
        assert!(parse(&["--japan-http-port", "7200"]).is_err());
        assert!(parse(&[]).is_ok());
    }
}
