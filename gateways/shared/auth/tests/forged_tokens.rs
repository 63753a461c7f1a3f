//! Tokens an attacker can make without the shared secret, or with it but without an expiry,
//! are refused by the one check every process uses: the result is `Unauthenticated` (gRPC
//! `UNAUTHENTICATED`, HTTP 401), never a caller.
//!
//! Each forged token carries claims that would be accepted in an HS256 token signed with the
//! configured secret (checked first), so only the forgery makes it fail.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use auth::{AuthConfig, Authenticator, Claims, ROLE_ADMIN, Unauthenticated, issue_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use settings::ExposeSecret;
use tonic::{Code, Request, metadata::MetadataMap, service::Interceptor};

/// `{"alg":"none","typ":"JWT"}`, base64url without padding.
const ALG_NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
/// `{"alg":"RS256","typ":"JWT"}`, base64url without padding.
const ALG_RS256_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";

fn admin_claims() -> Claims {
    Claims::new(
        "mallory",
        &[ROLE_ADMIN],
        "commerce",
        Duration::from_secs(300),
    )
}

/// The payload segment of a genuine token for `claims`, reused under a forged header.
fn payload_of(token: &str) -> &str {
    token.split('.').nth(1).expect("a JWT has three segments")
}

fn metadata(token: &str) -> MetadataMap {
    let mut map = MetadataMap::new();
    map.insert("authorization", format!("Bearer {token}").parse().unwrap());
    map
}

/// Asserts that `token` is refused both by the check and by the gRPC interceptor.
fn assert_refused(token: &str, what: &str) {
    let mut auth = Authenticator::new(&AuthConfig::development());
    assert_eq!(
        auth.authenticate(&metadata(token)),
        Err(Unauthenticated("invalid token")),
        "{what}"
    );
    let mut request = Request::new(());
    *request.metadata_mut() = metadata(token);
    let status = auth.call(request).expect_err(what);
    assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
}

/// A fresh 2048-bit RSA private key, PKCS#1 DER (what `EncodingKey::from_rsa_der` takes),
/// made by the `openssl` command: the workspace's crates sign with RSA keys but make none.
fn rsa_private_key_der() -> Vec<u8> {
    let pem = Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .stderr(Stdio::null())
        .output()
        .expect("the openssl command is installed");
    assert!(pem.status.success(), "openssl genrsa: {pem:?}");
    let mut convert = Command::new("openssl")
        .args(["rsa", "-traditional", "-outform", "DER"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl rsa runs");
    convert
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(&pem.stdout)
        .expect("write the key to openssl");
    let der = convert.wait_with_output().expect("openssl rsa finishes");
    assert!(der.status.success(), "openssl rsa: {der:?}");
    der.stdout
}

#[test]
fn the_same_claims_signed_hs256_with_the_secret_are_accepted() {
    let token = issue_token(&AuthConfig::development(), &admin_claims());
    let caller = Authenticator::new(&AuthConfig::development())
        .authenticate(&metadata(&token))
        .expect("a genuine token is accepted");
    assert_eq!(caller.subject, "mallory");
}

#[test]
fn a_token_with_alg_none_is_rejected() {
    let genuine = issue_token(&AuthConfig::development(), &admin_claims());
    let payload = payload_of(&genuine);
    // Unsigned, as the JWT spec allows for `none`, and with the genuine signature kept.
    assert_refused(
        &format!("{ALG_NONE_HEADER}.{payload}."),
        "alg none, no signature",
    );
    let signature = genuine.rsplit('.').next().unwrap();
    assert_refused(
        &format!("{ALG_NONE_HEADER}.{payload}.{signature}"),
        "alg none, HS256 signature",
    );
}

#[test]
fn a_token_signed_rs256_is_rejected() {
    let key = EncodingKey::from_rsa_der(&rsa_private_key_der());
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &admin_claims(), &key)
        .expect("RS256 signing");
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().alg,
        Algorithm::RS256
    );
    assert_refused(&token, "RS256 signed with the attacker's key");
}

#[test]
fn a_token_that_says_rs256_but_carries_an_hmac_of_the_secret_is_rejected() {
    // Algorithm confusion: a verifier that trusted the header's `alg` could be steered to
    // another check; only HS256 may be accepted, whatever the signature bytes are.
    let genuine = issue_token(&AuthConfig::development(), &admin_claims());
    let message = format!("{ALG_RS256_HEADER}.{}", payload_of(&genuine));
    let config = AuthConfig::development();
    let secret = config.jwt_secret.expose_secret();
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .expect("HMAC");
    assert_refused(&format!("{message}.{signature}"), "RS256 header, HMAC body");
    assert_refused(&format!("{message}.AAAA"), "RS256 header, junk signature");
}

#[test]
fn a_token_without_exp_is_rejected() {
    #[derive(Serialize)]
    struct NoExpiry<'a> {
        sub: &'a str,
        roles: [&'a str; 1],
        iss: &'a str,
    }
    let config = AuthConfig::development();
    let secret = config.jwt_secret.expose_secret();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &NoExpiry {
            sub: "mallory",
            roles: [ROLE_ADMIN],
            iss: "commerce",
        },
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing");
    assert_refused(&token, "no exp");
}
