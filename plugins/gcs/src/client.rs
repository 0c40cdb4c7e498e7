//! Requests to the JSON API of one bucket, authorised, and GCS error
//! responses as contract errors.

use serde::Deserialize;
use vdr_plugin_sdk::http::{Request, Response, classify_status, prefix_error};
use vdr_plugin_sdk::{Error, Result};

use crate::auth::Auth;
use vdr_plugin_sdk::http::percent_encode;

pub struct Client {
    pub endpoint: String,
    pub bucket: String,
    pub auth: Auth,
}

impl Client {
    /// `.../storage/v1/b/{bucket}` (the bucket resource).
    pub fn bucket_url(&self) -> String {
        format!("{}/storage/v1/b/{}", self.endpoint, percent_encode(&self.bucket))
    }

    /// `.../storage/v1/b/{bucket}/o/{name}` (object metadata and media).
    pub fn object_url(&self, name: &str) -> String {
        format!("{}/o/{}", self.bucket_url(), percent_encode(name))
    }

    /// `.../upload/storage/v1/b/{bucket}/o` (uploads).
    pub fn upload_url(&self) -> String {
        format!("{}/upload/storage/v1/b/{}/o", self.endpoint, percent_encode(&self.bucket))
    }

    pub fn send(&self, request: Request) -> Result<Response> {
        self.auth.apply(request)?.send()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

/// The response if 2xx, else its contract error (with GCS's own message).
pub fn check(response: Response, context: &str) -> Result<Response> {
    let Some(error) = classify_status(response.status, b"") else { return Ok(response) };
    let message = serde_json::from_slice::<ErrorBody>(&response.body)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| response.text().chars().take(200).collect());
    let with_message =
        |m: String| format!("{} {message}", m.trim_end_matches("(empty body)").trim());
    let error = match error {
        Error::Unauthorized(m) => Error::Unauthorized(with_message(m)),
        Error::NotFound(m) => Error::NotFound(with_message(m)),
        Error::AlreadyExists(m) => Error::AlreadyExists(with_message(m)),
        Error::Unavailable(m) => Error::Unavailable(with_message(m)),
        Error::InvalidInput(m) => Error::InvalidInput(with_message(m)),
        other => other,
    };
    Err(prefix_error(context, error))
}
