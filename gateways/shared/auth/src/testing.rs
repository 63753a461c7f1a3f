//! Test support for every crate whose tests call an authenticated service (feature `testing`):
//! bearer tokens signed with the development secret, and requests carrying them. Services under
//! test run with [`AuthConfig::development`], so these tokens pass their checks.

use std::time::Duration;

use tonic::Request;

use crate::{AuthConfig, Claims, issue_token};

/// How long a test token stays valid: longer than any test, short enough to be a token.
pub const TOKEN_TTL: Duration = Duration::from_secs(300);

/// A token of the development secret and issuer for `sub` with `roles`, valid [`TOKEN_TTL`].
pub fn token(sub: &str, roles: &[&str]) -> String {
    let config = AuthConfig::development();
    issue_token(&config, &Claims::new(sub, roles, &config.issuer, TOKEN_TTL))
}

/// `message` with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .expect("a token is a valid header value"),
    );
    request
}
