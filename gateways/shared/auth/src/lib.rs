//! Who is calling, and what they may read or do: an HS256 bearer token (`authorization: Bearer
//! <JWT>`) checked the same way by every process of the shop — the gRPC command and query
//! services (as a tonic [`Interceptor`]) and the HTTP gateway (from the `Authorization` header).
//!
//! Claims: `sub` (a customer id, an admin's name or a service's name), `roles` (`customer`,
//! `admin`, `service`), `iss` (must equal the configured issuer) and `exp` (required, checked,
//! 5 s leeway).
//!
//! Configuration: the `[auth]` section of the shared settings (`APP_AUTH__JWT_SECRET`, at least
//! 32 bytes, refused outside the `local` stage when it is the development one —
//! `settings::Settings::require_auth`; `APP_AUTH__ISSUER`, default `commerce`).
#![forbid(unsafe_code)]

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use settings::ExposeSecret;
use tonic::{
    Request, Status,
    metadata::{MetadataMap, MetadataValue},
    service::Interceptor,
};

#[cfg(feature = "testing")]
pub mod testing;

/// Role of a customer acting on, or reading, their own account.
pub const ROLE_CUSTOMER: &str = "customer";
/// Role of an operator who may act on and read anything.
pub const ROLE_ADMIN: &str = "admin";
/// Role of another service of the shop (the payment service debiting a balance, the order saga
/// reserving stock, the cart asking for availability, the HTTP gateway's own probes).
pub const ROLE_SERVICE: &str = "service";

/// How bearer tokens are checked: the `[auth]` section of the shared settings (secret and
/// issuer), under the name this crate's callers know.
pub use settings::AuthSettings as AuthConfig;

/// The claims of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who: a customer id (UUID), an admin's name or a service's name.
    pub sub: String,
    /// What they may do.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Who issued the token; must match the configured issuer.
    pub iss: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl Claims {
    /// Claims for `sub` with `roles`, issued by `issuer`, valid for `ttl` from now.
    pub fn new(sub: impl Into<String>, roles: &[&str], issuer: &str, ttl: Duration) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            sub: sub.into(),
            roles: roles.iter().map(|&r| r.to_owned()).collect(),
            iss: issuer.to_owned(),
            exp: (now + ttl).as_secs(),
        }
    }
}

/// Signs `claims` with the configured secret (HS256). For tests, local tooling and the services'
/// own tokens; end users get theirs from the identity provider.
pub fn issue_token(config: &AuthConfig, claims: &Claims) -> String {
    let key = EncodingKey::from_secret(config.jwt_secret.expose_secret().as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .expect("HS256 signing of plain claims cannot fail")
}

/// No valid credentials: missing, malformed, badly signed, expired or from another issuer. The
/// text says which, without echoing the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unauthenticated: {0}")]
pub struct Unauthenticated(pub &'static str);

/// Valid credentials that do not allow this (another customer's data, a missing role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("permission denied: {0}")]
pub struct Denied(pub &'static str);

impl From<Unauthenticated> for Status {
    fn from(error: Unauthenticated) -> Self {
        Status::unauthenticated(error.to_string())
    }
}

impl From<Denied> for Status {
    fn from(error: Denied) -> Self {
        Status::permission_denied(error.to_string())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`.
    pub subject: String,
    /// The token's roles.
    pub roles: Vec<String>,
}

impl Caller {
    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Who to record as the actor of events: an admin as `admin:<name>`, anyone else by their
    /// subject.
    pub fn actor(&self) -> String {
        if self.has_role(ROLE_ADMIN) {
            format!("admin:{}", self.subject)
        } else {
            self.subject.clone()
        }
    }

    /// Allows an admin, or the customer `customer_id` (anything that displays as the customer's
    /// id) acting on or reading their own account.
    pub fn require_customer(&self, customer_id: &impl fmt::Display) -> Result<(), Denied> {
        if self.has_role(ROLE_ADMIN) {
            return Ok(());
        }
        if !self.has_role(ROLE_CUSTOMER) {
            return Err(Denied("needs the customer or admin role"));
        }
        if self.subject != customer_id.to_string() {
            return Err(Denied("a customer may act only on their own account"));
        }
        Ok(())
    }

    /// Allows the admin role.
    pub fn require_admin(&self) -> Result<(), Denied> {
        if self.has_role(ROLE_ADMIN) {
            Ok(())
        } else {
            Err(Denied("needs the admin role"))
        }
    }

    /// Allows another service of the shop or an admin.
    pub fn require_service(&self) -> Result<(), Denied> {
        if self.has_role(ROLE_SERVICE) || self.has_role(ROLE_ADMIN) {
            Ok(())
        } else {
            Err(Denied("needs the service or admin role"))
        }
    }
}

/// Checks bearer tokens. As a tonic [`Interceptor`], it rejects unauthenticated requests before
/// they are decoded and hands the [`Caller`] to the handler in the request's extensions.
#[derive(Clone)]
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    /// An authenticator for `config`'s secret and issuer.
    pub fn new(config: &AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Self {
            key: DecodingKey::from_secret(config.jwt_secret.expose_secret().as_bytes()),
            validation,
        }
    }

    /// The caller named by an `Authorization` header's value (`Bearer <JWT>`), if any.
    pub fn verify_header(&self, header: Option<&[u8]>) -> Result<Caller, Unauthenticated> {
        let header = header.ok_or(Unauthenticated("missing bearer token"))?;
        let header = std::str::from_utf8(header)
            .map_err(|_| Unauthenticated("malformed authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(Unauthenticated("expected a bearer token"))?;
        let claims = jsonwebtoken::decode::<Claims>(token.trim(), &self.key, &self.validation)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                tracing::debug!(%error, "token rejected");
                Unauthenticated(match error.kind() {
                    ErrorKind::ExpiredSignature => "token expired",
                    ErrorKind::InvalidIssuer => "token from an unknown issuer",
                    _ => "invalid token",
                })
            })?
            .claims;
        if claims.sub.trim().is_empty() {
            return Err(Unauthenticated("token has an empty subject"));
        }
        Ok(Caller {
            subject: claims.sub,
            roles: claims.roles,
        })
    }

    /// The caller named by a gRPC request's bearer token.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<Caller, Unauthenticated> {
        self.verify_header(metadata.get("authorization").map(MetadataValue::as_bytes))
    }
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = self.authenticate(request.metadata())?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor stored in `request`.
pub fn caller<T>(request: &Request<T>) -> Result<&Caller, Unauthenticated> {
    request
        .extensions()
        .get::<Caller>()
        .ok_or(Unauthenticated("no authenticated caller"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(token: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("authorization", format!("Bearer {token}").parse().unwrap());
        map
    }

    #[test]
    fn a_valid_token_names_the_caller_and_roles() {
        let config = AuthConfig::development();
        let token = issue_token(
            &config,
            &Claims::new("alice", &[ROLE_ADMIN], "commerce", Duration::from_secs(60)),
        );
        let caller = Authenticator::new(&config)
            .authenticate(&metadata(&token))
            .unwrap();
        assert_eq!(caller.subject, "alice");
        assert_eq!(caller.actor(), "admin:alice");
        assert!(caller.require_admin().is_ok());
    }

    #[test]
    fn tokens_with_a_wrong_issuer_or_secret_expired_or_missing_are_rejected() {
        let config = AuthConfig::development();
        let auth = Authenticator::new(&config);
        let wrong_issuer = issue_token(
            &config,
            &Claims::new("alice", &[ROLE_ADMIN], "evil", Duration::from_secs(60)),
        );
        assert_eq!(
            auth.authenticate(&metadata(&wrong_issuer)),
            Err(Unauthenticated("token from an unknown issuer"))
        );
        let mut other = AuthConfig::development();
        other.jwt_secret = "another-secret-that-is-long-enough-to-pass".into();
        let wrong_key = issue_token(
            &other,
            &Claims::new("alice", &[ROLE_ADMIN], "commerce", Duration::from_secs(60)),
        );
        assert_eq!(
            auth.authenticate(&metadata(&wrong_key)),
            Err(Unauthenticated("invalid token"))
        );
        let mut expired = Claims::new("alice", &[ROLE_ADMIN], "commerce", Duration::ZERO);
        expired.exp -= 60;
        assert_eq!(
            auth.authenticate(&metadata(&issue_token(&config, &expired))),
            Err(Unauthenticated("token expired"))
        );
        assert_eq!(
            auth.authenticate(&MetadataMap::new()),
            Err(Unauthenticated("missing bearer token"))
        );
        assert_eq!(
            auth.verify_header(Some(b"Basic abc")),
            Err(Unauthenticated("expected a bearer token"))
        );
        assert_eq!(
            auth.verify_header(Some(b"Bearer \xff")),
            Err(Unauthenticated("malformed authorization header"))
        );
    }

    #[test]
    fn a_customer_may_act_only_on_their_own_account() {
        let id = uuid::Uuid::new_v4();
        let customer = Caller {
            subject: id.to_string(),
            roles: vec![ROLE_CUSTOMER.into()],
        };
        assert!(customer.require_customer(&id).is_ok());
        assert!(customer.require_customer(&uuid::Uuid::new_v4()).is_err());
        assert!(customer.require_service().is_err());
        assert!(customer.require_admin().is_err());
    }
}
