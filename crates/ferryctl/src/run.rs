//! Runs one parsed command line: plan the call, connect, send, print, pick the exit code.
//!
//! Standard output gets the rendered answer body (also for non-2xx answers such as a
//! missing document); standard error gets one `error: ...` line for anything that is not a
//! 2xx answer. Exit code 0 for a 2xx answer, 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use ferry_proto::v1::admin_client::AdminClient;
use tonic::transport::{Channel, Endpoint};

use crate::call::{execute, plan};
use crate::cli::Cli;
use crate::render::{describe_status, render};

/// Largest answer ferryctl accepts (tonic's default is 4 MiB, too small for big searches).
const MAX_ANSWER_BYTES: usize = 1 << 30;
/// Largest trailer block ferryctl accepts: room for Elasticsearch error bodies in details.
const MAX_HEADER_LIST_BYTES: u32 = 1 << 20;

/// Runs the command; `Err` is a failure to report as `error: {err:#}`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let call = plan(&cli.command, cli.params.into_iter().collect())?;
    let mut client = connect(&cli.endpoint, Duration::from_secs(cli.timeout)).await?;
    let reply = execute(&mut client, call.rpc)
        .await
        .map_err(|status| anyhow!(describe_status(&status)))?;
    print!("{}", render(call.view, cli.output, &reply.body));
    if (200..300).contains(&reply.status) {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: answered with status {}", reply.status);
        Ok(ExitCode::FAILURE)
    }
}

async fn connect(endpoint: &str, timeout: Duration) -> anyhow::Result<AdminClient<Channel>> {
    if endpoint.starts_with("https://") {
        bail!("invalid endpoint [{endpoint}]: TLS endpoints are not supported yet");
    }
    let channel = Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("invalid endpoint [{endpoint}]"))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .connect()
        .await
        .with_context(|| format!("unavailable: cannot connect to {endpoint}"))?;
    Ok(AdminClient::new(channel).max_decoding_message_size(MAX_ANSWER_BYTES))
}
