//! The `Commerce-Signature` header: `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where each `v1` is
//! HMAC-SHA256(secret, `"<t>.<raw body>"`) under one secret (several while a secret is rotated).
//!
//! [`verify`] checks, in this order: the header parses, `t` is within the tolerance of now
//! (either direction: a replayed old callback and a clock far ahead are both refused), and some
//! `v1` is the HMAC of `t` and the body under some secret, compared in constant time
//! (`hmac`'s `verify_slice`). The parser is bounded ([`MAX_HEADER_LEN`], [`MAX_SIGNATURES`]):
//! the header is untrusted input read before anything is known about its sender.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header's name (lowercase, as HTTP/2 sends it; HTTP/1 names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "commerce-signature";
/// Longest header accepted.
pub const MAX_HEADER_LEN: usize = 4096;
/// Most `v1` entries accepted (one per secret in rotation; a handful in practice).
pub const MAX_SIGNATURES: usize = 8;
/// Bytes of one HMAC-SHA256.
const MAC_LEN: usize = 32;

/// Why a callback's signature is refused. Every variant is a `401` at our webhook, and nothing
/// else happens; the provider's retry cannot help unless its secret or clock is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Commerce-Signature` header (or an empty one).
    #[error("missing Commerce-Signature header")]
    Missing,
    /// The header is not `t=<digits>,v1=<64 hex digits>…`; the text says what is wrong.
    #[error("malformed Commerce-Signature header: {0}")]
    Malformed(&'static str),
    /// `t` is further in the past than the tolerance: an old callback replayed, or a delivery
    /// that took too long.
    #[error(
        "Commerce-Signature timestamp is {age_secs} s old, beyond the tolerance of {tolerance_secs} s"
    )]
    TooOld {
        /// How far in the past `t` is.
        age_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// `t` is further in the future than the tolerance: a clock far off, or a forged header.
    #[error(
        "Commerce-Signature timestamp is {ahead_secs} s in the future, beyond the tolerance of {tolerance_secs} s"
    )]
    InTheFuture {
        /// How far ahead `t` is.
        ahead_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// No `v1` is the signature of this body and timestamp under any of our secrets: a forged or
    /// altered callback, or a secret we do not (or no longer) hold.
    #[error("no Commerce-Signature v1 matches the body under any webhook secret")]
    NoMatch,
}

impl SignatureError {
    /// A short machine-readable name of the problem.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Missing => "missing_signature",
            Self::Malformed(_) => "malformed_signature",
            Self::TooOld { .. } | Self::InTheFuture { .. } => "stale_signature",
            Self::NoMatch => "signature_mismatch",
        }
    }
}

/// A parsed header. `t` is kept as sent: the HMAC covers its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// `t`, Unix seconds.
    pub timestamp: i64,
    /// `t` as it appears in the header.
    timestamp_text: &'a str,
    /// Every `v1`, decoded.
    pub signatures: Vec<[u8; MAC_LEN]>,
}

impl<'a> SignatureHeader<'a> {
    /// Parses `header`: comma-separated `key=value` elements, exactly one `t` (decimal digits),
    /// one to [`MAX_SIGNATURES`] `v1` (64 hex digits each); elements with other keys (other
    /// schemes) are skipped. Whitespace around elements is ignored. Never panics.
    pub fn parse(header: &'a str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_LEN {
            return Err(SignatureError::Malformed("longer than 4096 bytes"));
        }
        if header.trim().is_empty() {
            return Err(SignatureError::Missing);
        }
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for element in header.split(',') {
            let Some((key, value)) = element.trim().split_once('=') else {
                return Err(SignatureError::Malformed("an element is not key=value"));
            };
            match key {
                "t" => {
                    if timestamp.is_some() {
                        return Err(SignatureError::Malformed("t is given more than once"));
                    }
                    timestamp = Some((unix_seconds(value)?, value));
                }
                "v1" => {
                    if signatures.len() == MAX_SIGNATURES {
                        return Err(SignatureError::Malformed("more than 8 v1 signatures"));
                    }
                    let mut signature = [0; MAC_LEN];
                    hex::decode_to_slice(value, &mut signature)
                        .map_err(|_| SignatureError::Malformed("v1 is not 64 hex digits"))?;
                    signatures.push(signature);
                }
                "" => return Err(SignatureError::Malformed("an element has no key")),
                _ => {}
            }
        }
        let Some((timestamp, timestamp_text)) = timestamp else {
            return Err(SignatureError::Malformed("no t= timestamp"));
        };
        if signatures.is_empty() {
            return Err(SignatureError::Malformed("no v1= signature"));
        }
        Ok(Self {
            timestamp,
            timestamp_text,
            signatures,
        })
    }
}

/// `value` as Unix seconds: 1 to 18 decimal digits (so it always fits an `i64`), no sign.
fn unix_seconds(value: &str) -> Result<i64, SignatureError> {
    let malformed = SignatureError::Malformed("t is not a Unix time in decimal digits");
    if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    value.parse().map_err(|_| malformed)
}

/// The HMAC of `"<timestamp>.<body>"` under `secret`, ready to finalize or verify.
fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `timestamp` (Unix seconds) with `secret`:
/// `t=<timestamp>,v1=<hex>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign_all(&[secret], timestamp, body)
}

/// The header value signing `body` at `timestamp` with each of `secrets`, in order: one `v1`
/// per secret, as a provider sends while a secret is rotated.
pub fn sign_all<S: AsRef<[u8]>>(secrets: &[S], timestamp: i64, body: &[u8]) -> String {
    let text = timestamp.to_string();
    let mut header = format!("t={text}");
    for secret in secrets {
        let tag = mac(secret.as_ref(), &text, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(tag));
    }
    header
}

/// Checks that `header` signs `body` under one of `secrets`, at a time within `tolerance` of
/// `now_unix` (either direction). See the module doc for the order of the checks. An empty
/// `secrets` matches nothing.
pub fn verify<S: AsRef<[u8]>>(
    header: &str,
    body: &[u8],
    secrets: &[S],
    now_unix: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let parsed = SignatureHeader::parse(header)?;
    let tolerance_secs = tolerance.as_secs();
    let skew = i128::from(now_unix) - i128::from(parsed.timestamp);
    let beyond = |by: i128| u64::try_from(by).unwrap_or(u64::MAX);
    if skew > i128::from(tolerance_secs) {
        return Err(SignatureError::TooOld {
            age_secs: beyond(skew),
            tolerance_secs,
        });
    }
    if -skew > i128::from(tolerance_secs) {
        return Err(SignatureError::InTheFuture {
            ahead_secs: beyond(-skew),
            tolerance_secs,
        });
    }
    for secret in secrets {
        let expected = mac(secret.as_ref(), parsed.timestamp_text, body);
        for signature in &parsed.signatures {
            if expected.clone().verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

#[cfg(test)]
mod tests;
