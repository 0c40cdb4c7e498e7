//! Query strings. Object names and values are percent-encoded whole (GCS
//! wants `/` in object names encoded too).

use vdr_plugin_sdk::http::percent_encode;

/// `?k=v&...` (or "" when empty), values encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> =
        pairs.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
    format!("?{}", joined.join("&"))
}
