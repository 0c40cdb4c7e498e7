//! AWS Signature Version 4 in the `Authorization` header.
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::encode::canonical_query;

type HmacSha256 = Hmac<Sha256>;

/// The payload hash that tells S3 not to check the body (only over TLS,
/// where the transport already protects it).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// What gets signed. `path` is already URI-encoded.
pub struct Signable<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    /// Extra headers to sign and send (lowercase names).
    pub headers: &'a [(String, String)],
    pub payload_hash: &'a str,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The headers to add to the request (`x-amz-date`, `x-amz-content-sha256`,
/// `x-amz-security-token`, `authorization`), for the time `amz_date`
/// (`YYYYMMDDTHHMMSSZ`).
pub fn sign(
    req: &Signable<'_>,
    creds: &Credentials,
    region: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..8];
    let mut added = vec![
        ("x-amz-content-sha256".to_string(), req.payload_hash.to_string()),
        ("x-amz-date".to_string(), amz_date.to_string()),
    ];
    if let Some(token) = &creds.session_token {
        added.push(("x-amz-security-token".into(), token.clone()));
    }
    let mut signed: Vec<(String, String)> = vec![("host".into(), req.host.to_string())];
    signed.extend(added.iter().cloned());
    signed.extend(req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())));
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = signed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac(format!("AWS4{}", creds.secret_access_key).as_bytes(), date);
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &string_to_sign));
    added.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GET Object example of the S3 SigV4 documentation.
    #[test]
    fn matches_the_aws_example() {
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let headers = vec![("range".to_string(), "bytes=0-9".to_string())];
        let req = Signable {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: &sha256_hex(b""),
        };
        let out = sign(&req, &creds, "us-east-1", "20130524T000000Z");
        let auth = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(
            auth.ends_with(
                "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            "{auth}"
        );
    }
}
