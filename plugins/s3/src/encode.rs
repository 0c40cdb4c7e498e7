//! URI encoding as SigV4 defines it: every byte but `A-Za-z0-9-_.~` is
//! `%XX` (uppercase), and `/` is kept in paths. The same encoding is used for
//! the URL sent and the canonical request signed, so they always agree.

pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sorted, encoded `k=v&k2=v2` (empty values keep their `=`, as SigV4 and
/// SeaweedFS's `?versions=` want).
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}
