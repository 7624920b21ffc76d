//! Compiles `proto/ferry/v1/*.proto` into Rust with protox (pure Rust, so no system
//! `protoc`) and tonic-prost-build. The generated code lands in `OUT_DIR`; nothing is
//! checked in.

use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "../../proto";
const PROTO_DIR: &str = "../../proto/ferry/v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_DIR}");
    let files = proto_files(Path::new(PROTO_DIR))?;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let fds = protox::compile(&files, [PROTO_ROOT])?;
    tonic_prost_build::configure()
        // Every `bytes` field is `bytes::Bytes`: request bodies reach the service layer
        // without a copy.
        .bytes(".")
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}

/// The `.proto` files of the package, sorted so the output does not depend on directory order.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "proto") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
