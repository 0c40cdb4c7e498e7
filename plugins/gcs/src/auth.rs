//! Credentials: an OAuth2 bearer token, a service-account key exchanged for
//! tokens (JWT RS256, RFC 7523) and refreshed before they expire, or none
//! (emulators).

use std::cell::RefCell;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde::Deserialize;
use sha2::Sha256;
use vdr_plugin_sdk::http::Request;
use vdr_plugin_sdk::{Config, Error, Result};

use vdr_plugin_sdk::http::percent_encode;
use vdr_plugin_sdk::time::now_secs;

const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Refresh this long before the token expires.
const REFRESH_MARGIN_SECS: u64 = 120;

pub enum Auth {
    Anonymous,
    Token(String),
    ServiceAccount(Box<ServiceAccount>),
}

pub struct ServiceAccount {
    email: String,
    key: SigningKey<Sha256>,
    token_uri: String,
    /// (token, expiry in Unix seconds)
    cached: RefCell<Option<(String, u64)>>,
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    token_uri: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl Auth {
    pub fn from_config(config: &Config) -> Result<Auth> {
        if let Some(token) = config.secret("oauth-token").filter(|t| !t.is_empty()) {
            return Ok(Auth::Token(token.to_string()));
        }
        let Some(json) = config.secret("service-account-json") else {
            return Ok(Auth::Anonymous);
        };
        // Never quote the key file in errors: it holds the private key.
        let file: KeyFile = serde_json::from_str(json).map_err(|_| {
            Error::Unauthorized(
                "gcs: the service-account key is not a valid key file (JSON)".into(),
            )
        })?;
        let private = RsaPrivateKey::from_pkcs8_pem(&file.private_key).map_err(|_| {
            Error::Unauthorized(
                "gcs: the service-account private key is not a PKCS#8 RSA key".into(),
            )
        })?;
        Ok(Auth::ServiceAccount(Box::new(ServiceAccount {
            email: file.client_email,
            key: SigningKey::<Sha256>::new(private),
            token_uri: file.token_uri.unwrap_or_else(|| TOKEN_URI.into()),
            cached: RefCell::new(None),
        })))
    }

    /// Add the authorization header, if any.
    pub fn apply(&self, request: Request) -> Result<Request> {
        match self {
            Auth::Anonymous => Ok(request),
            Auth::Token(t) => Ok(request.bearer(t)),
            Auth::ServiceAccount(sa) => Ok(request.bearer(&sa.token()?)),
        }
    }
}

impl ServiceAccount {
    fn token(&self) -> Result<String> {
        let now = now_secs();
        if let Some((token, expiry)) = &*self.cached.borrow()
            && now + REFRESH_MARGIN_SECS < *expiry
        {
            return Ok(token.clone());
        }
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.email, "scope": SCOPE, "aud": self.token_uri,
            "iat": now, "exp": now + 3600,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(signing_input.as_bytes()).to_bytes());
        let body = format!(
            "grant_type={}&assertion={signing_input}.{signature}",
            percent_encode("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        let response = Request::post(&self.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()?;
        if !response.is_success() {
            return Err(Error::Unauthorized(format!(
                "gcs: exchanging the service-account key of {} for a token failed: HTTP {}",
                self.email, response.status
            )));
        }
        let token: TokenResponse = response.json()?;
        *self.cached.borrow_mut() = Some((token.access_token.clone(), now + token.expires_in));
        Ok(token.access_token)
    }
}
