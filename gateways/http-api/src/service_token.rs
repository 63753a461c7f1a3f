//! The bearer token the webhook calls the payment service with: role `service`, subject
//! [`SUBJECT`], minted from the gateway's own JWT settings (`docs/payments.md`) and re-minted a
//! minute before it expires, so no call goes out with a token about to lapse.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use auth::{AuthConfig, Claims, ROLE_SERVICE, issue_token};
use tokio::time::Instant;
use tonic::metadata::AsciiMetadataValue;

/// The token's subject: who the payment service records as the actor of what the webhook does.
pub const SUBJECT: &str = "payment-webhook";
/// How long a minted token is valid.
pub const TTL: Duration = Duration::from_secs(300);
/// How long before its expiry a token is replaced.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The current token, minted on first use and again when it nears its expiry. Cheap to clone
/// (clones share the token).
#[derive(Clone)]
pub struct ServiceToken {
    auth: Arc<AuthConfig>,
    current: Arc<Mutex<Option<Minted>>>,
}

#[derive(Clone)]
struct Minted {
    /// `Bearer <jwt>`, as the `authorization` metadata value.
    bearer: AsciiMetadataValue,
    /// When to mint the next one.
    renew_at: Instant,
}

impl ServiceToken {
    /// Tokens signed with `auth`'s secret, of its issuer.
    pub fn new(auth: AuthConfig) -> Self {
        Self {
            auth: Arc::new(auth),
            current: Arc::default(),
        }
    }

    /// The `authorization` value to send now.
    pub fn bearer(&self) -> AsciiMetadataValue {
        self.bearer_at(Instant::now())
    }

    /// The `authorization` value to send at `now`.
    fn bearer_at(&self, now: Instant) -> AsciiMetadataValue {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(minted) = current.as_ref().filter(|minted| now < minted.renew_at) {
            return minted.bearer.clone();
        }
        let claims = Claims::new(SUBJECT, &[ROLE_SERVICE], &self.auth.issuer, TTL);
        let bearer = format!("Bearer {}", issue_token(&self.auth, &claims))
            .parse()
            .expect("a JWT is base64url and dots: a valid metadata value");
        let minted = Minted {
            bearer,
            renew_at: now + (TTL - RENEW_BEFORE),
        };
        *current = Some(minted.clone());
        minted.bearer
    }
}

#[cfg(test)]
mod tests {
    use auth::Authenticator;

    use super::*;

    #[test]
    fn the_token_is_a_service_token_of_the_webhook_and_is_reused_until_near_its_expiry() {
        let auth = AuthConfig::development();
        let token = ServiceToken::new(auth.clone());
        let start = Instant::now();
        let first = token.bearer_at(start);
        let caller = Authenticator::new(&auth)
            .verify_header(Some(first.as_bytes()))
            .unwrap();
        assert_eq!(caller.subject, SUBJECT);
        assert_eq!(caller.roles, [ROLE_SERVICE]);

        let renew_at = start + TTL - RENEW_BEFORE;
        assert_eq!(token.bearer_at(renew_at - Duration::from_secs(1)), first);
        token.bearer_at(renew_at);
        let renewed = token.current.lock().unwrap().clone().unwrap().renew_at;
        assert_eq!(renewed, renew_at + TTL - RENEW_BEFORE, "minted again");
    }
}
