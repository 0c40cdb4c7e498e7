//! The List Blobs response and the Put Block List body.

use serde::Deserialize;
use vdr_plugin_sdk::{Error, Result};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnumerationResults {
    #[serde(default)]
    pub blobs: Blobs,
    #[serde(default)]
    pub next_marker: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Blobs {
    #[serde(default)]
    pub blob: Vec<Blob>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Blob {
    pub name: String,
    #[serde(default)]
    pub snapshot: Option<String>,
    pub properties: Properties,
}

#[derive(Deserialize)]
pub struct Properties {
    #[serde(rename = "Last-Modified", default)]
    pub last_modified: String,
    #[serde(rename = "Content-Length", default)]
    pub content_length: u64,
}

pub fn parse_list(body: &[u8]) -> Result<EnumerationResults> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::Internal("list blobs: response is not UTF-8".into()))?;
    quick_xml::de::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Error::Internal(format!("list blobs: unexpected XML response: {e}")))
}

/// Body of Put Block List (block ids are base64, no escaping needed).
pub fn block_list(ids: &[String]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for id in ids {
        xml.push_str(&format!("<Latest>{id}</Latest>"));
    }
    xml.push_str("</BlockList>");
    xml
}
