//! The S3 XML documents the plugin reads and writes.

use serde::Deserialize;
use vdr_plugin_sdk::{Error, Result};

pub fn parse<'de, T: Deserialize<'de>>(body: &'de [u8], what: &str) -> Result<T> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::Internal(format!("{what}: response is not UTF-8")))?;
    quick_xml::de::from_str(text)
        .map_err(|e| Error::Internal(format!("{what}: unexpected XML response: {e}")))
}

/// `<Error><Code>..</Code><Message>..</Message></Error>`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct S3Error {
    pub code: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResult {
    #[serde(default)]
    pub contents: Vec<Object>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Object {
    pub key: String,
    #[serde(default)]
    pub last_modified: String,
    #[serde(default)]
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsResult {
    #[serde(default)]
    pub version: Vec<Version>,
    #[serde(default)]
    pub delete_marker: Vec<Version>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    pub key: String,
    pub version_id: String,
    #[serde(default)]
    pub is_latest: bool,
    #[serde(default)]
    pub last_modified: String,
    #[serde(default)]
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateMultipartUploadResult {
    pub upload_id: String,
}

/// The body of CompleteMultipartUpload.
pub fn complete_multipart(parts: &[(u32, String)]) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (number, etag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
            escape(etag)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_interleaved_versions_and_markers() {
        let body = br#"<?xml version="1.0"?><ListVersionsResult><IsTruncated>true</IsTruncated>
            <NextKeyMarker>b</NextKeyMarker><NextVersionIdMarker>3</NextVersionIdMarker>
            <Version><Key>a</Key><VersionId>1</VersionId><IsLatest>false</IsLatest><Size>2</Size></Version>
            <DeleteMarker><Key>a</Key><VersionId>2</VersionId><IsLatest>true</IsLatest></DeleteMarker>
            <Version><Key>b</Key><VersionId>3</VersionId><IsLatest>true</IsLatest><Size>5</Size></Version>
            </ListVersionsResult>"#;
        let r: ListVersionsResult = parse(body, "test").unwrap();
        assert_eq!(r.version.len(), 2);
        assert_eq!(r.delete_marker.len(), 1);
        assert!(r.is_truncated);
        assert_eq!(r.next_version_id_marker.as_deref(), Some("3"));
    }
}
