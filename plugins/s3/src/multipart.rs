//! S3 multipart uploads: the resource keeps the upload id and the ETag of
//! each part, which CompleteMultipartUpload needs back.

use std::rc::Rc;

use vdr_plugin_sdk::{Error, MultipartUpload, Result};

use crate::client::{Client, check, error_code, query};
use crate::xml;

pub struct S3Upload {
    client: Rc<Client>,
    key: String,
    upload_id: String,
    parts: Vec<(u32, String)>,
}

impl S3Upload {
    pub fn start(client: Rc<Client>, key: String, sse: &[(String, String)]) -> Result<Self> {
        let context = format!("starting multipart upload of {key}");
        let response = check(
            client.send("POST", Some(&key), &query(&[("uploads", "")]), sse, vec![])?,
            &context,
        )?;
        let init: xml::InitiateMultipartUploadResult = xml::parse(&response.body, &context)?;
        Ok(S3Upload { client, key, upload_id: init.upload_id, parts: Vec::new() })
    }
}

impl MultipartUpload for S3Upload {
    fn put_part(&mut self, number: u32, data: Vec<u8>) -> Result<()> {
        let context = format!("uploading part {number} of {}", self.key);
        let n = number.to_string();
        let q = query(&[("partNumber", &n), ("uploadId", &self.upload_id)]);
        let response = check(self.client.send("PUT", Some(&self.key), &q, &[], data)?, &context)?;
        let etag = response
            .header("etag")
            .ok_or_else(|| Error::Internal(format!("{context}: no ETag in the response")))?
            .to_string();
        // A retried part replaces the earlier attempt.
        self.parts.retain(|(p, _)| *p != number);
        self.parts.push((number, etag));
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        let context = format!("completing multipart upload of {}", self.key);
        self.parts.sort_by_key(|(n, _)| *n);
        let body = xml::complete_multipart(&self.parts).into_bytes();
        let q = query(&[("uploadId", &self.upload_id)]);
        let response = self.client.send("POST", Some(&self.key), &q, &[], body)?;
        // S3 may answer 200 and still report an error in the body.
        let code = error_code(&response);
        if response.is_success() && !code.is_empty() {
            return Err(Error::Unavailable(format!("{context}: HTTP 200 with error {code}")));
        }
        check(response, &context)?;
        Ok(())
    }

    fn abort(&mut self) -> Result<()> {
        let context = format!("aborting multipart upload of {}", self.key);
        let q = query(&[("uploadId", &self.upload_id)]);
        let response = self.client.send("DELETE", Some(&self.key), &q, &[], vec![])?;
        if response.status == 404 {
            return Ok(()); // already gone
        }
        check(response, &context)?;
        Ok(())
    }
}
