//! `ferryctl`: Ferry's admin CLI, a thin gRPC client of ferryd's transport port.
//!
//! Parses the command line, runs one admin rpc and prints the answer. It holds no logic of
//! the server's: every check on names, documents and queries happens in ferryd.

mod body;
mod call;
mod cli;
mod render;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
