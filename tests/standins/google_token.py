#!/usr/bin/env python3
"""Stand-in for Google's OAuth 2.0 token endpoint, service-account flow, as
published in "Using OAuth 2.0 for Server to Server Applications"
(developers.google.com/identity/protocols/oauth2/service-account, "Preparing
to make an authorized API call" / HTTP/REST) and RFC 7523.

POST /token with a form body `grant_type=urn:ietf:params:oauth:grant-type:
jwt-bearer&assertion=JWT`. The JWT header is `{"alg":"RS256","typ":"JWT"}`;
its claims are `iss` (the service account's email), `scope`, `aud` (the token
URI), `iat` and `exp` (at most one hour after `iat`); it is signed with the
service account's private key (RSASSA-PKCS1-v1_5 with SHA-256). A good
assertion gets `{"access_token", "expires_in", "token_type": "Bearer"}`; a bad
one HTTP 400 `{"error": "invalid_grant", "error_description": ...}` as Google
answers it.

It generates the service account's key pair and writes a key file shaped like
the ones Google issues (`type`, `client_email`, `private_key` PKCS#8 PEM,
`token_uri` pointing here), plus, with --foreign-key-file, a key file for the
same account signed by a key this server does not know. GET /stats reports
`{"issued": N, "refused": M}`. The port (0: any free one) is printed as
`listening on http://127.0.0.1:PORT` once the server is ready.

    python3 tests/standins/google_token.py --key-file sa.json \
        [--foreign-key-file other.json] [--port 0]
"""

import argparse
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

EMAIL = "vdr-backup@vdr-test.iam.gserviceaccount.com"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_file(path, key, token_uri):
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    doc = {
        "type": "service_account",
        "project_id": "vdr-test",
        "private_key_id": "standin",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": token_uri,
    }
    with open(path, "w") as f:
        json.dump(doc, f)


class State:
    def __init__(self, public_key, token_uri):
        self.public_key = public_key
        self.token_uri = token_uri
        self.issued = 0
        self.refused = 0
        self.lock = threading.Lock()

    def check(self, assertion):
        """None when the assertion is good, else why not."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return "Invalid JWT: not three parts"
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        if header.get("alg") != "RS256":
            return "Invalid JWT: alg must be RS256"
        try:
            self.public_key.verify(
                b64url_decode(parts[2]),
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("iss") != EMAIL:
            return "Invalid JWT: unknown issuer"
        if claims.get("aud") != self.token_uri:
            return "Invalid JWT: aud must be the token URI"
        if "devstorage" not in claims.get("scope", ""):
            return "Invalid JWT: no storage scope"
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if abs(iat - now) > 300 or exp <= iat or exp - iat > 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)"
        return None


def handler(state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/stats":
                with state.lock:
                    self.reply(200, {"issued": state.issued, "refused": state.refused})
            else:
                self.reply(404, {"error": "not_found"})

        def do_POST(self):
            if self.path != "/token":
                return self.reply(404, {"error": "not_found"})
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            if form.get("grant_type") != [GRANT] or len(form.get("assertion", [])) != 1:
                with state.lock:
                    state.refused += 1
                return self.reply(400, {"error": "unsupported_grant_type"})
            why = state.check(form["assertion"][0])
            with state.lock:
                if why:
                    state.refused += 1
                else:
                    state.issued += 1
                n = state.issued
            if why:
                return self.reply(400, {"error": "invalid_grant", "error_description": why})
            self.reply(
                200,
                {"access_token": f"ya29.standin-{n}", "expires_in": 3599, "token_type": "Bearer"},
            )

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--key-file", required=True)
    p.add_argument("--foreign-key-file")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), None)
    token_uri = f"http://127.0.0.1:{server.server_address[1]}/token"
    state = State(key.public_key(), token_uri)
    server.RequestHandlerClass = handler(state)
    key_file(a.key_file, key, token_uri)
    if a.foreign_key_file:
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file(a.foreign_key_file, other, token_uri)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
