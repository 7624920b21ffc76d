//! The typed summary (`ClusterHealth`) the `Health` rpc sends beside the JSON body.
//!
//! Pure: it reads fields of the Elasticsearch health body and never fails; it does not
//! compute health (that is the service layer's job).

use ferry_proto::v1 as pb;
use serde_json::Value;

/// The typed summary of a cluster health body; fields the body lacks stay zero.
pub(super) fn health_summary(body: &Value) -> pb::ClusterHealth {
    let count = |key: &str| {
        body.get(key)
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let status = match body.get("status").and_then(Value::as_str) {
        Some("green") => pb::HealthStatus::Green,
        Some("yellow") => pb::HealthStatus::Yellow,
        Some("red") => pb::HealthStatus::Red,
        _ => pb::HealthStatus::Unspecified,
    };
    pb::ClusterHealth {
        cluster_name: body
            .get("cluster_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        status: status.into(),
        timed_out: body
            .get("timed_out")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        number_of_nodes: count("number_of_nodes"),
        number_of_data_nodes: count("number_of_data_nodes"),
        active_primary_shards: count("active_primary_shards"),
        active_shards: count("active_shards"),
        relocating_shards: count("relocating_shards"),
        initializing_shards: count("initializing_shards"),
        unassigned_shards: count("unassigned_shards"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn health_summary_reads_the_elasticsearch_fields() {
        let body = json!({
            "cluster_name": "ferry", "status": "yellow", "timed_out": false,
            "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 3,
            "active_shards": 3, "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": 3
        });
        let h = health_summary(&body);
        assert_eq!(h.cluster_name, "ferry");
        assert_eq!(h.status(), pb::HealthStatus::Yellow);
        assert_eq!(
            (
                h.number_of_nodes,
                h.active_primary_shards,
                h.unassigned_shards
            ),
            (1, 3, 3)
        );
    }

    #[test]
    fn health_summary_of_an_unknown_status_is_unspecified() {
        let h = health_summary(&json!({"status": "purple", "active_shards": -1}));
        assert_eq!(h.status(), pb::HealthStatus::Unspecified);
        assert_eq!(h.active_shards, 0);
    }
}
