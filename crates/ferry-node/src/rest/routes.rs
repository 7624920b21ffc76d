//! The route table: ES paths, the methods each accepts, and each endpoint's URL
//! parameters (from ES's REST API spec).
//!
//! Matching follows ES's path trie: a literal segment beats a `{placeholder}` at the
//! same position, earlier positions first. A path that matches with another method is a
//! 405 listing the allowed methods; a path that matches nothing is ES's "no handler found".
//! Unknown URL parameters are refused with ES's message (with "did you mean"). This module
//! does not call the node.

use super::allowed::*;

/// HTTP methods ES routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Method {
    /// From the request's method; `None` for methods ES never routes (PATCH, ...).
    pub fn parse(m: &axum::http::Method) -> Option<Self> {
        Some(match *m {
            axum::http::Method::GET => Self::Get,
            axum::http::Method::HEAD => Self::Head,
            axum::http::Method::PUT => Self::Put,
            axum::http::Method::POST => Self::Post,
            axum::http::Method::DELETE => Self::Delete,
            _ => return None,
        })
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// What a matched route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Info,
    Health,
    Refresh,
    ForceMerge,
    GetMapping,
    PutMapping,
    GetSettings,
    PutSettings,
    Close,
    Open,
    CreateIndex,
    DeleteIndex,
    GetIndex,
    IndexExists,
    IndexDocAuto,
    IndexDoc,
    CreateDoc,
    GetDoc,
    DeleteDoc,
    UpdateDoc,
    GetSource,
    Mget,
    Bulk,
    Search,
    Count,
    CatHelp,
    Cat(&'static str),
    GetClusterSettings,
    PutClusterSettings,
    RemoteInfo,
    PutFollow,
    PauseFollow,
    ResumeFollow,
    FollowStats,
    Unfollow,
    Promote,
    ForgetFollower,
    FollowInfo,
    CcrStats,
    PutAutoFollow,
    GetAutoFollow,
    DeleteAutoFollow,
    PauseAutoFollow,
    ResumeAutoFollow,
}

impl Action {
    /// A stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Health => "cluster.health",
            Self::Refresh => "indices.refresh",
            Self::ForceMerge => "indices.forcemerge",
            Self::GetMapping => "indices.get_mapping",
            Self::PutMapping => "indices.put_mapping",
            Self::GetSettings => "indices.get_settings",
            Self::PutSettings => "indices.put_settings",
            Self::Close => "indices.close",
            Self::Open => "indices.open",
            Self::CreateIndex => "indices.create",
            Self::DeleteIndex => "indices.delete",
            Self::GetIndex => "indices.get",
            Self::IndexExists => "indices.exists",
            Self::IndexDocAuto | Self::IndexDoc => "index",
            Self::CreateDoc => "create",
            Self::GetDoc => "get",
            Self::DeleteDoc => "delete",
            Self::UpdateDoc => "update",
            Self::GetSource => "get_source",
            Self::Mget => "mget",
            Self::Bulk => "bulk",
            Self::Search => "search",
            Self::Count => "count",
            Self::CatHelp => "cat.help",
            Self::GetClusterSettings => "cluster.get_settings",
            Self::PutClusterSettings => "cluster.put_settings",
            Self::RemoteInfo => "cluster.remote_info",
            Self::PutFollow => "ccr.follow",
            Self::PauseFollow => "ccr.pause_follow",
            Self::ResumeFollow => "ccr.resume_follow",
            Self::FollowStats => "ccr.follow_stats",
            Self::Unfollow => "ccr.unfollow",
            Self::Promote => "ccr.promote",
            Self::ForgetFollower => "ccr.forget_follower",
            Self::FollowInfo => "ccr.follow_info",
            Self::CcrStats => "ccr.stats",
            Self::PutAutoFollow => "ccr.put_auto_follow_pattern",
            Self::GetAutoFollow => "ccr.get_auto_follow_pattern",
            Self::DeleteAutoFollow => "ccr.delete_auto_follow_pattern",
            Self::PauseAutoFollow => "ccr.pause_auto_follow_pattern",
            Self::ResumeAutoFollow => "ccr.resume_auto_follow_pattern",
            Self::Cat(kind) => match kind {
                "indices" => "cat.indices",
                "nodes" => "cat.nodes",
                "shards" => "cat.shards",
                "health" => "cat.health",
                _ => "cat.count",
            },
        }
    }

    /// Whether `?format=` may ask for text (`_cat`).
    pub fn is_cat(self) -> bool {
        matches!(self, Self::Cat(_) | Self::CatHelp)
    }
}

/// One method of a route.
#[derive(Debug)]
pub struct Handler {
    /// The method.
    pub method: Method,
    /// What it does.
    pub action: Action,
    /// Its URL parameters (besides the ones every endpoint accepts).
    pub params: &'static [&'static str],
}

/// A path pattern and its methods.
#[derive(Debug)]
pub struct Route {
    /// `/{index}/_doc/{id}`.
    pub path: &'static str,
    /// The methods.
    pub handlers: &'static [Handler],
}

const fn h(method: Method, action: Action, params: &'static [&'static str]) -> Handler {
    Handler {
        method,
        action,
        params,
    }
}

use Action as A;
use Method::{Delete, Get, Head, Post, Put};

/// Every route.
pub static ROUTES: &[Route] = &[
    Route {
        path: "/",
        handlers: &[h(Get, A::Info, NONE), h(Head, A::Info, NONE)],
    },
    Route {
        path: "/_cluster/health",
        handlers: &[h(Get, A::Health, HEALTH)],
    },
    Route {
        path: "/_cluster/health/{index}",
        handlers: &[h(Get, A::Health, HEALTH)],
    },
    Route {
        path: "/_cluster/settings",
        handlers: &[
            h(Get, A::GetClusterSettings, GET_CLUSTER_SETTINGS),
            h(Put, A::PutClusterSettings, PUT_CLUSTER_SETTINGS),
        ],
    },
    Route {
        path: "/_remote/info",
        handlers: &[h(Get, A::RemoteInfo, NONE)],
    },
    Route {
        path: "/{index}/_ccr/follow",
        handlers: &[h(Put, A::PutFollow, PUT_FOLLOW)],
    },
    Route {
        path: "/{index}/_ccr/pause_follow",
        handlers: &[h(Post, A::PauseFollow, MASTER_TIMEOUT)],
    },
    Route {
        path: "/{index}/_ccr/resume_follow",
        handlers: &[h(Post, A::ResumeFollow, MASTER_TIMEOUT)],
    },
    Route {
        path: "/{index}/_ccr/stats",
        handlers: &[h(Get, A::FollowStats, TIMEOUT)],
    },
    Route {
        path: "/{index}/_ccr/unfollow",
        handlers: &[h(Post, A::Unfollow, MASTER_TIMEOUT)],
    },
    Route {
        path: "/{index}/_ccr/promote",
        handlers: &[h(Post, A::Promote, MASTER_TIMEOUT)],
    },
    Route {
        path: "/{index}/_ccr/forget_follower",
        handlers: &[h(Post, A::ForgetFollower, TIMEOUT)],
    },
    Route {
        path: "/{index}/_ccr/info",
        handlers: &[h(Get, A::FollowInfo, MASTER_TIMEOUT)],
    },
    Route {
        path: "/_ccr/stats",
        handlers: &[h(Get, A::CcrStats, CCR_STATS)],
    },
    Route {
        path: "/_ccr/auto_follow",
        handlers: &[h(Get, A::GetAutoFollow, MASTER_TIMEOUT)],
    },
    Route {
        path: "/_ccr/auto_follow/{name}",
        handlers: &[
            h(Put, A::PutAutoFollow, MASTER_TIMEOUT),
            h(Get, A::GetAutoFollow, MASTER_TIMEOUT),
            h(Delete, A::DeleteAutoFollow, MASTER_TIMEOUT),
        ],
    },
    Route {
        path: "/_ccr/auto_follow/{name}/pause",
        handlers: &[h(Post, A::PauseAutoFollow, MASTER_TIMEOUT)],
    },
    Route {
        path: "/_ccr/auto_follow/{name}/resume",
        handlers: &[h(Post, A::ResumeAutoFollow, MASTER_TIMEOUT)],
    },
    Route {
        path: "/_forcemerge",
        handlers: &[h(Post, A::ForceMerge, FORCE_MERGE)],
    },
    Route {
        path: "/{index}/_forcemerge",
        handlers: &[h(Post, A::ForceMerge, FORCE_MERGE)],
    },
    Route {
        path: "/_refresh",
        handlers: &[h(Post, A::Refresh, IDX_OPTS), h(Get, A::Refresh, IDX_OPTS)],
    },
    Route {
        path: "/{index}/_refresh",
        handlers: &[h(Post, A::Refresh, IDX_OPTS), h(Get, A::Refresh, IDX_OPTS)],
    },
    Route {
        path: "/_mapping",
        handlers: &[h(Get, A::GetMapping, GET_MAPPING)],
    },
    Route {
        path: "/{index}/_mapping",
        handlers: &[
            h(Get, A::GetMapping, GET_MAPPING),
            h(Put, A::PutMapping, PUT_MAPPING),
            h(Post, A::PutMapping, PUT_MAPPING),
        ],
    },
    Route {
        path: "/_settings",
        handlers: &[
            h(Get, A::GetSettings, GET_SETTINGS),
            h(Put, A::PutSettings, PUT_SETTINGS),
        ],
    },
    Route {
        path: "/_settings/{name}",
        handlers: &[h(Get, A::GetSettings, GET_SETTINGS)],
    },
    Route {
        path: "/{index}/_settings",
        handlers: &[
            h(Get, A::GetSettings, GET_SETTINGS),
            h(Put, A::PutSettings, PUT_SETTINGS),
        ],
    },
    Route {
        path: "/{index}/_settings/{name}",
        handlers: &[h(Get, A::GetSettings, GET_SETTINGS)],
    },
    Route {
        path: "/{index}/_close",
        handlers: &[h(Post, A::Close, OPEN_CLOSE)],
    },
    Route {
        path: "/{index}/_open",
        handlers: &[h(Post, A::Open, OPEN_CLOSE)],
    },
    Route {
        path: "/{index}",
        handlers: &[
            h(Get, A::GetIndex, GET_INDEX),
            h(Head, A::IndexExists, EXISTS_INDEX),
            h(Put, A::CreateIndex, CREATE_INDEX),
            h(Delete, A::DeleteIndex, DELETE_INDEX),
        ],
    },
    Route {
        path: "/{index}/_doc",
        handlers: &[h(Post, A::IndexDocAuto, INDEX_DOC)],
    },
    Route {
        path: "/{index}/_doc/{id}",
        handlers: &[
            h(Get, A::GetDoc, GET_DOC),
            h(Head, A::GetDoc, GET_DOC),
            h(Put, A::IndexDoc, INDEX_DOC),
            h(Post, A::IndexDoc, INDEX_DOC),
            h(Delete, A::DeleteDoc, DELETE_DOC),
        ],
    },
    Route {
        path: "/{index}/_create/{id}",
        handlers: &[
            h(Put, A::CreateDoc, CREATE_DOC),
            h(Post, A::CreateDoc, CREATE_DOC),
        ],
    },
    Route {
        path: "/{index}/_update/{id}",
        handlers: &[h(Post, A::UpdateDoc, UPDATE_DOC)],
    },
    Route {
        path: "/{index}/_source/{id}",
        handlers: &[
            h(Get, A::GetSource, GET_DOC),
            h(Head, A::GetSource, GET_DOC),
        ],
    },
    Route {
        path: "/_mget",
        handlers: &[h(Get, A::Mget, MGET), h(Post, A::Mget, MGET)],
    },
    Route {
        path: "/{index}/_mget",
        handlers: &[h(Get, A::Mget, MGET), h(Post, A::Mget, MGET)],
    },
    Route {
        path: "/_bulk",
        handlers: &[h(Post, A::Bulk, BULK), h(Put, A::Bulk, BULK)],
    },
    Route {
        path: "/{index}/_bulk",
        handlers: &[h(Post, A::Bulk, BULK), h(Put, A::Bulk, BULK)],
    },
    Route {
        path: "/_search",
        handlers: &[h(Get, A::Search, SEARCH), h(Post, A::Search, SEARCH)],
    },
    Route {
        path: "/{index}/_search",
        handlers: &[h(Get, A::Search, SEARCH), h(Post, A::Search, SEARCH)],
    },
    Route {
        path: "/_count",
        handlers: &[h(Get, A::Count, COUNT), h(Post, A::Count, COUNT)],
    },
    Route {
        path: "/{index}/_count",
        handlers: &[h(Get, A::Count, COUNT), h(Post, A::Count, COUNT)],
    },
    Route {
        path: "/_cat",
        handlers: &[h(Get, A::CatHelp, NONE)],
    },
    Route {
        path: "/_cat/indices",
        handlers: &[h(Get, A::Cat("indices"), CAT_INDICES)],
    },
    Route {
        path: "/_cat/indices/{index}",
        handlers: &[h(Get, A::Cat("indices"), CAT_INDICES)],
    },
    Route {
        path: "/_cat/nodes",
        handlers: &[h(Get, A::Cat("nodes"), CAT_NODES)],
    },
    Route {
        path: "/_cat/shards",
        handlers: &[h(Get, A::Cat("shards"), CAT_SHARDS)],
    },
    Route {
        path: "/_cat/shards/{index}",
        handlers: &[h(Get, A::Cat("shards"), CAT_SHARDS)],
    },
    Route {
        path: "/_cat/health",
        handlers: &[h(Get, A::Cat("health"), CAT_HEALTH)],
    },
    Route {
        path: "/_cat/count",
        handlers: &[h(Get, A::Cat("count"), CAT_COMMON)],
    },
    Route {
        path: "/_cat/count/{index}",
        handlers: &[h(Get, A::Cat("count"), CAT_COMMON)],
    },
];

/// Placeholder values of a matched path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    /// `{index}`.
    pub index: Option<String>,
    /// `{id}`.
    pub id: Option<String>,
    /// `{name}`.
    pub name: Option<String>,
}

/// The result of routing a request.
#[derive(Debug)]
pub enum Routed<'r> {
    /// A handler for the method.
    Found(&'r Handler, PathParams),
    /// The path exists, with other methods.
    WrongMethod(Vec<&'static str>),
    /// Nothing matches.
    NotFound,
}

/// Finds the route for `segments` (percent-decoded, empty ones dropped) and `method`
/// (`None` for a method ES never routes, which can only be a 405 or "no handler").
pub fn route(method: Option<Method>, segments: &[String]) -> Routed<'static> {
    let mut best: Option<(&Route, u64)> = None;
    for r in ROUTES {
        let pattern: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut score = 0u64;
        let mut ok = true;
        for (i, (p, s)) in pattern.iter().zip(segments).enumerate() {
            if p.starts_with('{') {
                continue;
            }
            if p != s {
                ok = false;
                break;
            }
            score |= 1 << (63 - i);
        }
        if ok && best.is_none_or(|(_, b)| score > b) {
            best = Some((r, score));
        }
    }
    let Some((r, _)) = best else {
        return Routed::NotFound;
    };
    let handler = method.and_then(|method| {
        r.handlers.iter().find(|h| h.method == method).or_else(|| {
            if method == Method::Head {
                r.handlers.iter().find(|h| h.method == Method::Get)
            } else {
                None
            }
        })
    });
    let Some(handler) = handler else {
        let mut allowed: Vec<&'static str> = r.handlers.iter().map(|h| h.method.as_str()).collect();
        if allowed.contains(&"GET") && !allowed.contains(&"HEAD") {
            allowed.push("HEAD");
        }
        return Routed::WrongMethod(allowed);
    };
    let mut pp = PathParams::default();
    for (p, s) in r.path.split('/').filter(|s| !s.is_empty()).zip(segments) {
        match p {
            "{index}" => pp.index = Some(s.clone()),
            "{id}" => pp.id = Some(s.clone()),
            "{name}" => pp.name = Some(s.clone()),
            _ => {}
        }
    }
    Routed::Found(handler, pp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn found(m: Method, p: &str) -> (Action, PathParams) {
        match route(Some(m), &segs(p)) {
            Routed::Found(h, pp) => (h.action, pp),
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn literals_beat_placeholders() {
        assert_eq!(found(Method::Get, "/_search").0, Action::Search);
        assert_eq!(found(Method::Get, "/logs/_search").0, Action::Search);
        assert_eq!(
            found(Method::Get, "/_cat/indices").0,
            Action::Cat("indices")
        );
        assert_eq!(found(Method::Get, "/logs").0, Action::GetIndex);
        let (a, pp) = found(Method::Put, "/logs/_doc/7");
        assert_eq!(a, Action::IndexDoc);
        assert_eq!(
            (pp.index.as_deref(), pp.id.as_deref()),
            (Some("logs"), Some("7"))
        );
        assert_eq!(
            found(Method::Get, "/_settings/index.uuid")
                .1
                .name
                .as_deref(),
            Some("index.uuid")
        );
        assert_eq!(found(Method::Head, "/logs/_doc/1").0, Action::GetDoc);
        assert_eq!(
            found(Method::Head, "/_search").0,
            Action::Search,
            "HEAD falls back to GET"
        );
    }

    #[test]
    fn wrong_method_and_unknown_paths() {
        match route(Some(Method::Get), &segs("/_bulk")) {
            Routed::WrongMethod(allowed) => assert_eq!(allowed, ["POST", "PUT"]),
            other => panic!("{other:?}"),
        }
        match route(Some(Method::Put), &segs("/logs/_doc")) {
            Routed::WrongMethod(allowed) => assert_eq!(allowed, ["POST"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            route(Some(Method::Get), &segs("/a/b/c/d")),
            Routed::NotFound
        ));
        assert!(matches!(
            route(Some(Method::Get), &segs("/_cat/bogus")),
            Routed::NotFound
        ));
        assert!(matches!(
            route(None, &segs("/x/_doc/1")),
            Routed::WrongMethod(_)
        ));
    }
}
