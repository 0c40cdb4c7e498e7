//! Chroma's HTTP API v2: URLs of one tenant/database, authentication, and
//! JSON requests whose HTTP errors become the contract's errors.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use vdr_plugin_sdk::http::{Request, Response, prefix_error};
use vdr_plugin_sdk::{Error, Result};

#[derive(Clone)]
pub struct Api {
    /// `{endpoint}/api/v2`
    root: String,
    pub tenant: String,
    pub database: String,
    /// Header carrying the API key (Chroma's token auth reads one of two).
    auth: Option<(String, String)>,
}

impl Api {
    pub fn new(
        endpoint: &str,
        tenant: String,
        database: String,
        auth: Option<(String, String)>,
    ) -> Api {
        Api { root: format!("{}/api/v2", endpoint.trim_end_matches('/')), tenant, database, auth }
    }

    /// `{root}/{path}` for paths outside the database (tenants, version).
    pub fn root_url(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    /// `.../tenants/{t}/databases/{d}/{path}`.
    pub fn db_url(&self, path: &str) -> String {
        format!("{}/tenants/{}/databases/{}/{path}", self.root, self.tenant, self.database)
    }

    fn authed(&self, request: Request) -> Request {
        match &self.auth {
            Some((header, value)) => request.header(header.as_str(), value.as_str()),
            None => request,
        }
    }

    pub fn get<T: DeserializeOwned>(&self, url: String, context: &str) -> Result<T> {
        self.send(Request::get(url), context)?.json()
    }

    pub fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        url: String,
        body: &B,
        context: &str,
    ) -> Result<T> {
        self.send(Request::post(url).json(body)?, context)?.json()
    }

    /// POST and ignore the response body.
    pub fn post_unit<B: Serialize + ?Sized>(
        &self,
        url: String,
        body: &B,
        context: &str,
    ) -> Result<()> {
        self.send(Request::post(url).json(body)?, context).map(drop)
    }

    /// A prepared body (already JSON) and an ignored response.
    pub fn post_raw(&self, url: String, body: Vec<u8>, context: &str) -> Result<()> {
        let request = Request::post(url).header("content-type", "application/json").body(body);
        self.send(request, context).map(drop)
    }

    pub fn delete(&self, url: String, context: &str) -> Result<()> {
        self.send(Request::delete(url), context).map(drop)
    }

    pub fn send(&self, request: Request, context: &str) -> Result<Response> {
        let response = self.authed(request).send().map_err(|e| prefix_error(context, e))?;
        response.error_for_status(context)
    }
}

/// Chroma reports a missing tenant or database as 404, like a missing
/// collection; callers that must tell them apart check the message.
pub fn is_not_found(error: &Error) -> bool {
    matches!(error, Error::NotFound(_))
}

/// A JSON value as u64, for counts.
pub fn as_count(value: &Value, context: &str) -> Result<u64> {
    value.as_u64().ok_or_else(|| Error::Internal(format!("{context}: unexpected count {value}")))
}
