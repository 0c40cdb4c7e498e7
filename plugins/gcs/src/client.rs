//! Requests to the JSON API of one bucket, authorised, and GCS error
//! responses as contract errors.

use vdr_plugin_sdk::Result;
use vdr_plugin_sdk::http::{Request, Response, percent_encode};

use crate::auth::Auth;

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

/// The response if 2xx, else its contract error (with GCS's own message).
pub fn check(response: Response, context: &str) -> Result<Response> {
    response.error_for_status_at(context, &["/error/message"])
}
