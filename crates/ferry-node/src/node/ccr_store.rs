//! What the catalog keeps of a follower index (`ccr_records`, kind `follow`), so a node
//! restart — or a kill -9 — resumes following where the shards' own checkpoints are.
//!
//! The record holds the follow's identity (remote alias, leader index and uuid, follower
//! uuid, lease id base, shard count), its status (`active` or `paused`) and the follow
//! parameters in their ES JSON form. Where the follower is in the leader's history is NOT
//! stored here: the follower shards' global checkpoints are the truth, so a restart never
//! re-applies or skips an operation. Deliberately not here: starting tasks (`ccr`).

use ferry_catalog::CCR_FOLLOW;
use ferry_replication::follow::FollowParameters;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Node;
use crate::error::ApiError;

/// One stored follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FollowRecord {
    pub(crate) follower_index: String,
    pub(crate) follower_uuid: String,
    pub(crate) remote_cluster: String,
    pub(crate) leader_index: String,
    pub(crate) leader_uuid: String,
    pub(crate) lease_base: String,
    pub(crate) shards: u32,
    /// `active` or `paused`.
    pub(crate) status: String,
    /// The follow parameters as ES renders them.
    pub(crate) parameters: Map<String, Value>,
}

pub(crate) const ACTIVE: &str = "active";
pub(crate) const PAUSED: &str = "paused";

impl FollowRecord {
    /// The stored parameters, parsed again (they were valid when stored).
    pub(crate) fn params(&self) -> Result<FollowParameters, ApiError> {
        FollowParameters::from_es_json(&self.parameters)
            .map_err(|e| ApiError::internal(format!("stored follow parameters: {e}")))
    }
}

impl Node {
    /// Writes `record` to the catalog (insert or replace).
    pub(crate) async fn store_follow(&self, record: &FollowRecord) -> Result<(), ApiError> {
        let value = serde_json::to_value(record).map_err(|e| ApiError::internal(e.to_string()))?;
        self.catalog
            .put_ccr_record(CCR_FOLLOW, &record.follower_index, &value)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Removes the stored follow of `follower` (absent is fine).
    pub(crate) async fn forget_follow(&self, follower: &str) -> Result<(), ApiError> {
        self.catalog
            .delete_ccr_record(CCR_FOLLOW, follower)
            .await
            .map(|_| ())
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Every stored follow; a record that does not parse is logged and skipped.
    pub(crate) async fn stored_follows(&self) -> Result<Vec<FollowRecord>, ApiError> {
        let records = self
            .catalog
            .get_ccr_records(CCR_FOLLOW)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(records
            .into_iter()
            .filter_map(|(name, v)| match serde_json::from_value(v) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(follower = %name, error = %e, "stored follow record is unreadable");
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_json_with_its_parameters() {
        let params = FollowParameters::default();
        let r = FollowRecord {
            follower_index: "f".into(),
            follower_uuid: "u1".into(),
            remote_cluster: "leader".into(),
            leader_index: "l".into(),
            leader_uuid: "u2".into(),
            lease_base: "c/f/u1-following-leader/l/u2".into(),
            shards: 2,
            status: ACTIVE.into(),
            parameters: params.to_es_json(),
        };
        let back: FollowRecord =
            serde_json::from_value(serde_json::to_value(&r).expect("serializes")).expect("parses");
        assert_eq!(back, r);
        assert_eq!(back.params().expect("valid"), params);
    }
}
