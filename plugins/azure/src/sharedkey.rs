//! Shared Key authorization for the Blob service.
//! <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The headers that have their own line in the string to sign, in order.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

pub struct SharedKey {
    pub account: String,
    /// The decoded account key.
    pub key: Vec<u8>,
}

impl SharedKey {
    /// The `Authorization` header value. `path` is the URL path as sent
    /// (for Azurite it starts with the account, which the canonical resource
    /// then names twice); `query` holds decoded parameters; `headers` are
    /// the request's headers with lowercase names.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body_len: usize,
    ) -> String {
        let header = |name: &str| {
            headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
        };
        let mut lines = vec![method.to_string()];
        for name in STANDARD_HEADERS {
            lines.push(match name {
                // Since version 2015-02-21 a zero length is the empty string.
                "content-length" if body_len > 0 => body_len.to_string(),
                "content-length" => String::new(),
                _ => header(name).to_string(),
            });
        }
        let mut ms: Vec<&(String, String)> =
            headers.iter().filter(|(k, _)| k.starts_with("x-ms-")).collect();
        ms.sort();
        let mut text = lines.join("\n");
        text.push('\n');
        for (k, v) in ms {
            text.push_str(&format!("{k}:{}\n", v.trim()));
        }
        text.push_str(&format!("/{}{path}", self.account));
        let mut params: Vec<(String, &str)> =
            query.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str())).collect();
        params.sort();
        for (k, v) in params {
            text.push_str(&format!("\n{k}:{v}"));
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(text.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        format!("SharedKey {}:{signature}", self.account)
    }
}
