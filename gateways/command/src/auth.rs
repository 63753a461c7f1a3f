//! Authentication and authorization of callers: the shop-wide rules of [`auth`] (an HS256
//! bearer token checked by an interceptor; customers act only on their own account), re-exported
//! here so the services name them as `crate::auth::…`. Health and reflection are served without
//! a token; every command needs one.

pub use auth::{
    AuthConfig, Authenticator, Caller, Claims, Denied, ROLE_ADMIN, ROLE_CUSTOMER, ROLE_SERVICE,
    Unauthenticated, caller, issue_token,
};
