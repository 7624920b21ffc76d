//! The columns of each `_cat` table: ES's names, aliases, default set, alignment and
//! help text. Data only; `super::cat` fills the rows.

use super::table::Column;

const fn col(
    name: &'static str,
    aliases: &'static [&'static str],
    default: bool,
    right: bool,
    desc: &'static str,
) -> Column {
    Column {
        name,
        aliases,
        default,
        right,
        desc,
    }
}

pub(super) const INDICES: &[Column] = &[
    col("health", &["h"], true, false, "current health status"),
    col("status", &["s"], true, false, "open/close status"),
    col("index", &["i", "idx"], true, false, "index name"),
    col("uuid", &["id", "uuid"], true, false, "index uuid"),
    col(
        "pri",
        &["p", "shards.primary", "shardsPrimary"],
        true,
        true,
        "number of primary shards",
    ),
    col(
        "rep",
        &["r", "shards.replica", "shardsReplica"],
        true,
        true,
        "number of replica shards",
    ),
    col(
        "docs.count",
        &["dc", "docsCount"],
        true,
        true,
        "available docs",
    ),
    col(
        "docs.deleted",
        &["dd", "docsDeleted"],
        true,
        true,
        "deleted docs",
    ),
    col(
        "creation.date",
        &["cd"],
        false,
        true,
        "index creation date (millisecond value)",
    ),
    col(
        "creation.date.string",
        &["cds"],
        false,
        false,
        "index creation date (as string)",
    ),
    col(
        "store.size",
        &["ss", "storeSize"],
        true,
        true,
        "store size of primaries & replicas",
    ),
    col("pri.store.size", &[], true, true, "store size of primaries"),
];

pub(super) const SHARDS: &[Column] = &[
    col("index", &["i", "idx"], true, false, "index name"),
    col("shard", &["s", "sh"], true, true, "shard name"),
    col(
        "prirep",
        &["p", "pr", "primaryOrReplica"],
        true,
        false,
        "primary or replica",
    ),
    col("state", &["st"], true, false, "shard state"),
    col("docs", &["d", "dc"], true, true, "number of docs in shard"),
    col(
        "store",
        &["sto"],
        true,
        true,
        "store size of shard (how much disk it uses)",
    ),
    col("ip", &[], true, false, "ip of node where it lives"),
    col("id", &[], false, false, "unique id of node where it lives"),
    col("node", &["n"], true, false, "name of node where it lives"),
    col(
        "seq_no.max",
        &["sqm", "maxSeqNo"],
        false,
        true,
        "max sequence number",
    ),
    col(
        "seq_no.local_checkpoint",
        &["sql", "localCheckpoint"],
        false,
        true,
        "local checkpoint",
    ),
    col(
        "seq_no.global_checkpoint",
        &["sqg", "globalCheckpoint"],
        false,
        true,
        "global checkpoint",
    ),
];

pub(super) const NODES: &[Column] = &[
    col("id", &["nodeId"], false, false, "unique node id"),
    col("pid", &["p"], false, true, "process id"),
    col("ip", &["i"], true, false, "ip address"),
    col("port", &["po"], false, true, "bound transport port"),
    col(
        "http_address",
        &["http"],
        false,
        false,
        "bound http address",
    ),
    col("version", &["v"], false, false, "es version"),
    col(
        "heap.percent",
        &["hp", "heapPercent"],
        true,
        true,
        "used heap ratio",
    ),
    col(
        "ram.current",
        &["rc", "ramCurrent"],
        false,
        true,
        "used machine memory",
    ),
    col(
        "ram.percent",
        &["rp", "ramPercent"],
        true,
        true,
        "used machine memory ratio",
    ),
    col(
        "ram.max",
        &["rm", "ramMax"],
        false,
        true,
        "total machine memory",
    ),
    col("cpu", &[], true, true, "recent cpu usage"),
    col("load_1m", &["l"], true, true, "1m load avg"),
    col("load_5m", &["l"], true, true, "5m load avg"),
    col("load_15m", &["l"], true, true, "15m load avg"),
    col("uptime", &["u"], false, true, "node uptime"),
    col(
        "node.role",
        &["r", "role", "nodeRole"],
        true,
        false,
        "m:master eligible node, d:data node, ...",
    ),
    col("master", &["m"], true, false, "*:current master"),
    col("name", &["n"], true, false, "node name"),
];

pub(super) const HEALTH: &[Column] = &[
    col(
        "epoch",
        &["t", "time"],
        true,
        true,
        "seconds since 1970-01-01 00:00:00",
    ),
    col(
        "timestamp",
        &["ts", "hms", "hhmmss"],
        true,
        false,
        "time in HH:MM:SS",
    ),
    col("cluster", &["cl"], true, false, "cluster name"),
    col("status", &["st"], true, false, "health status"),
    col(
        "node.total",
        &["nt", "nodeTotal"],
        true,
        true,
        "total number of nodes",
    ),
    col(
        "node.data",
        &["nd", "nodeData"],
        true,
        true,
        "number of nodes that can store data",
    ),
    col(
        "shards",
        &["t", "sh", "shards.total", "shardsTotal"],
        true,
        true,
        "total number of shards",
    ),
    col(
        "pri",
        &["p", "shards.primary", "shardsPrimary"],
        true,
        true,
        "number of primary shards",
    ),
    col(
        "relo",
        &["r", "shards.relocating", "shardsRelocating"],
        true,
        true,
        "number of relocating nodes",
    ),
    col(
        "init",
        &["i", "shards.initializing", "shardsInitializing"],
        true,
        true,
        "number of initializing nodes",
    ),
    col(
        "unassign",
        &["u", "shards.unassigned", "shardsUnassigned"],
        true,
        true,
        "number of unassigned shards",
    ),
    col(
        "pending_tasks",
        &["pt", "pendingTasks"],
        true,
        true,
        "number of pending tasks",
    ),
    col(
        "max_task_wait_time",
        &["mtwt", "maxTaskWaitTime"],
        true,
        true,
        "wait time of longest task pending",
    ),
    col(
        "active_shards_percent",
        &["asp", "activeShardsPercent"],
        true,
        true,
        "active number of shards in percent",
    ),
];

/// `_cat/health` with `?ts=false`: the same columns without the time ones by default.
pub(super) const HEALTH_NO_TS: &[Column] = &[
    col(
        "epoch",
        &["t", "time"],
        false,
        true,
        "seconds since 1970-01-01 00:00:00",
    ),
    col(
        "timestamp",
        &["ts", "hms", "hhmmss"],
        false,
        false,
        "time in HH:MM:SS",
    ),
    HEALTH[2],
    HEALTH[3],
    HEALTH[4],
    HEALTH[5],
    HEALTH[6],
    HEALTH[7],
    HEALTH[8],
    HEALTH[9],
    HEALTH[10],
    HEALTH[11],
    HEALTH[12],
    HEALTH[13],
];

pub(super) const COUNT: &[Column] = &[
    // the same epoch and timestamp columns as _cat/health
    HEALTH[0],
    HEALTH[1],
    col(
        "count",
        &["dc", "docs.count", "docsCount"],
        true,
        true,
        "the document count",
    ),
];
