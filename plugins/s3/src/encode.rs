//! The canonical query string of SigV4. Names and values use the SDK's
//! percent-encoding for the URL sent and the request signed alike, so the
//! two always agree.

use vdr_plugin_sdk::http::percent_encode;

/// Sorted, encoded `k=v&k2=v2` (empty values keep their `=`, as SigV4 and
/// SeaweedFS's `?versions=` want).
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}
