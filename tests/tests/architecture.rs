//! Architecture rules checked on the real workspace through `cargo metadata`.
//!
//! - Dependency arrows between workspace crates (normal and build dependencies) follow the
//!   table of ARCHITECTURE.md §3; an arrow not listed there fails, and so does a workspace
//!   crate the table does not know (add it to the table first).
//! - No `aws-lc-rs` / `aws-lc-sys` (a second TLS crypto provider) in the resolved graph.
//! - Every crate root (`lib.rs`, `main.rs`) and every module under a crate's `src/` starts
//!   with a `//!` doc.
//!
//! Dev-dependencies are not checked: tests may reach for anything. The table is written out
//! here on purpose (parsing Markdown would be fragile); change both together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, TargetKind};

/// Who may depend on whom (ARCHITECTURE.md §3). `None` = anything (drivers of binaries).
fn allowed() -> BTreeMap<&'static str, Option<&'static [&'static str]>> {
    const LIBS: &[&str] = &[
        "ferry-replication",
        "ferry-cluster",
        "ferry-storage",
        "ferry-index",
        "ferry-catalog",
        "ferry-proto",
    ];
    BTreeMap::from([
        ("ferry-node", Some(LIBS)),
        ("ferryctl", Some(&["ferry-proto"][..])),
        (
            "ferry-replication",
            Some(&["ferry-index", "ferry-catalog", "ferry-proto"][..]),
        ),
        (
            "ferry-cluster",
            Some(&["ferry-index", "ferry-catalog", "ferry-proto"][..]),
        ),
        ("ferry-storage", Some(&["ferry-proto"][..])),
        ("ferry-index", Some(&["ferry-proto"][..])),
        ("ferry-catalog", Some(&[][..])),
        ("ferry-proto", Some(&[][..])),
        ("xtask", None),
        ("ferry-tests", None),
    ])
}

/// The violations among `edges` (from, to) between workspace crates.
fn violations(edges: &[(String, String)]) -> Vec<String> {
    let table = allowed();
    let mut out = Vec::new();
    for (from, to) in edges {
        match table.get(from.as_str()) {
            None => out.push(format!(
                "workspace crate `{from}` is not in the dependency table of ARCHITECTURE.md §3 (and tests/tests/architecture.rs)"
            )),
            Some(None) => {}
            Some(Some(ok)) if ok.contains(&to.as_str()) => {}
            Some(Some(_)) => out.push(format!("`{from}` -> `{to}` is not an allowed arrow (ARCHITECTURE.md §3)")),
        }
    }
    out
}

fn metadata() -> Result<Metadata> {
    let root = ferry_tests::workspace_root();
    MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .exec()
        .context("cargo metadata")
}

/// Normal and build dependency arrows between workspace members.
fn workspace_edges(meta: &Metadata) -> Vec<(String, String)> {
    let members = meta.workspace_packages();
    let names: BTreeSet<String> = members.iter().map(|p| p.name.to_string()).collect();
    let mut edges = BTreeSet::new();
    for pkg in &members {
        for dep in &pkg.dependencies {
            let counted = matches!(dep.kind, DependencyKind::Normal | DependencyKind::Build);
            if counted && names.contains(&dep.name) {
                edges.insert((pkg.name.to_string(), dep.name.clone()));
            }
        }
    }
    edges.into_iter().collect()
}

#[test]
fn dependency_arrows_follow_the_architecture_table() -> Result<()> {
    let meta = metadata()?;
    let edges = workspace_edges(&meta);
    let mut problems = violations(&edges);
    // A member with no internal dependencies must still be known to the table.
    let table = allowed();
    for pkg in meta.workspace_packages() {
        if !table.contains_key(pkg.name.as_str())
            && !edges.iter().any(|(f, _)| *f == pkg.name.as_str())
        {
            problems.push(format!(
                "workspace crate `{}` is not in the dependency table of ARCHITECTURE.md §3",
                pkg.name
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "architecture violations:\n{}",
        problems.join("\n")
    );
    Ok(())
}

#[test]
fn the_checker_rejects_forbidden_arrows() {
    let e = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert!(
        violations(&[
            e("ferry-node", "ferry-index"),
            e("xtask", "ferry-node"),
            e("ferryctl", "ferry-proto")
        ])
        .is_empty()
    );
    assert_eq!(violations(&[e("ferry-index", "ferry-catalog")]).len(), 1);
    assert_eq!(
        violations(&[e("ferry-replication", "ferry-cluster")]).len(),
        1
    );
    assert_eq!(
        violations(&[e("ferry-cluster", "ferry-replication")]).len(),
        1
    );
    assert_eq!(violations(&[e("ferryctl", "ferry-index")]).len(), 1);
    assert_eq!(violations(&[e("ferry-proto", "ferry-catalog")]).len(), 1);
    assert_eq!(violations(&[e("ferry-newcrate", "ferry-proto")]).len(), 1);
}

#[test]
fn no_aws_lc_in_the_resolved_graph() -> Result<()> {
    let meta = metadata()?;
    let resolve = meta
        .resolve
        .as_ref()
        .context("cargo metadata returned no resolve graph")?;
    let by_id: BTreeMap<_, _> = meta.packages.iter().map(|p| (&p.id, p)).collect();
    let offenders: Vec<String> = resolve
        .nodes
        .iter()
        .filter_map(|n| by_id.get(&n.id))
        .filter(|p| p.name.starts_with("aws-lc"))
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    assert!(
        offenders.is_empty(),
        "a second TLS crypto provider is in the graph: {offenders:?} (use ring only)"
    );
    Ok(())
}

fn starts_with_module_doc(path: &Path) -> Result<bool> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with("//!")))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn every_crate_root_has_a_crate_doc() -> Result<()> {
    let meta = metadata()?;
    let mut missing = Vec::new();
    for pkg in meta.workspace_packages() {
        for target in &pkg.targets {
            let root = target
                .kind
                .iter()
                .any(|k| matches!(k, TargetKind::Lib | TargetKind::Bin | TargetKind::ProcMacro));
            if root && !starts_with_module_doc(target.src_path.as_std_path())? {
                missing.push(format!("{} ({})", target.src_path, pkg.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "crate roots without a `//!` doc:\n{}",
        missing.join("\n")
    );
    Ok(())
}

#[test]
fn every_module_has_a_module_doc() -> Result<()> {
    let meta = metadata()?;
    let mut missing = Vec::new();
    for pkg in meta.workspace_packages() {
        let Some(dir) = pkg.manifest_path.parent() else {
            continue;
        };
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(src.as_std_path(), &mut files)?;
        for f in files {
            if !starts_with_module_doc(&f)? {
                missing.push(f.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a `//!` doc (what it does, what it does not):\n{}",
        missing.join("\n")
    );
    Ok(())
}
