//! The header's round trip, rotation, every refusal, and a parser that never panics.

use proptest::prelude::*;

use super::*;

const OLD: &[u8] = b"whsec-old-secret-of-at-least-32-bytes!!";
const NEW: &[u8] = b"whsec-new-secret-of-at-least-32-bytes!!";
const NOW: i64 = 1_764_979_200;
const TOLERANCE: Duration = Duration::from_secs(300);
const BODY: &[u8] = br#"{"id":"evt_1","type":"charge.succeeded"}"#;

fn check(header: &str, body: &[u8], secrets: &[&[u8]]) -> Result<(), SignatureError> {
    verify(header, body, secrets, NOW, TOLERANCE)
}

#[test]
fn a_signed_body_verifies() {
    let header = sign(OLD, NOW, BODY);
    assert!(header.starts_with(&format!("t={NOW},v1=")), "{header}");
    assert_eq!(header.len(), "t=1764979200,v1=".len() + 64);
    assert_eq!(check(&header, BODY, &[OLD]), Ok(()));
}

#[test]
fn the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body() {
    // Computed independently (Python's hmac module) over "1764979200.<BODY>" with OLD.
    let hex = "fca936cb1fa79d48b984dc1e377c2f2c47932105d7d237d382eafb9a193d97a9";
    assert_eq!(sign(OLD, NOW, BODY), format!("t={NOW},v1={hex}"));
}

#[test]
fn while_a_secret_rotates_either_secret_verifies() {
    // The provider signs with both: we accept with either, old or new.
    let both = sign_all(&[NEW, OLD], NOW, BODY);
    assert_eq!(both.matches("v1=").count(), 2);
    assert_eq!(check(&both, BODY, &[OLD]), Ok(()));
    assert_eq!(check(&both, BODY, &[NEW]), Ok(()));
    // The provider signs with the new one only; we hold both: accepted by the second secret.
    assert_eq!(check(&sign(NEW, NOW, BODY), BODY, &[OLD, NEW]), Ok(()));
    assert_eq!(check(&sign(OLD, NOW, BODY), BODY, &[OLD, NEW]), Ok(()));
}

#[test]
fn a_tampered_body_does_not_match() {
    let header = sign(OLD, NOW, BODY);
    let mut tampered = BODY.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        check(&header, &tampered, &[OLD]),
        Err(SignatureError::NoMatch)
    );
    assert_eq!(check(&header, b"", &[OLD]), Err(SignatureError::NoMatch));
}

#[test]
fn a_changed_timestamp_does_not_match() {
    let header = sign(OLD, NOW, BODY).replace(&format!("t={NOW}"), &format!("t={}", NOW - 1));
    assert_eq!(check(&header, BODY, &[OLD]), Err(SignatureError::NoMatch));
    // Leading zeros make another signed text, hence another signature.
    let padded = sign(OLD, NOW, BODY).replace("t=", "t=0");
    assert_eq!(check(&padded, BODY, &[OLD]), Err(SignatureError::NoMatch));
}

#[test]
fn another_secret_does_not_match_and_no_secret_matches_nothing() {
    let header = sign(NEW, NOW, BODY);
    assert_eq!(check(&header, BODY, &[OLD]), Err(SignatureError::NoMatch));
    assert_eq!(check(&header, BODY, &[]), Err(SignatureError::NoMatch));
}

#[test]
fn stale_timestamps_are_refused_in_both_directions() {
    let at = |t: i64| check(&sign(OLD, t, BODY), BODY, &[OLD]);
    assert_eq!(at(NOW - 300), Ok(()), "the tolerance itself is accepted");
    assert_eq!(at(NOW + 300), Ok(()));
    assert_eq!(
        at(NOW - 301),
        Err(SignatureError::TooOld {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        at(NOW + 301),
        Err(SignatureError::InTheFuture {
            ahead_secs: 301,
            tolerance_secs: 300
        })
    );
    assert!(matches!(at(0), Err(SignatureError::TooOld { .. })));
    let far = format!("t=999999999999999999,v1={}", "0".repeat(64));
    assert!(matches!(
        check(&far, BODY, &[OLD]),
        Err(SignatureError::InTheFuture { .. })
    ));
}

#[test]
fn a_missing_header_is_named_missing() {
    assert_eq!(check("", BODY, &[OLD]), Err(SignatureError::Missing));
    assert_eq!(check("  ", BODY, &[OLD]), Err(SignatureError::Missing));
    assert_eq!(SignatureError::Missing.kind(), "missing_signature");
}

#[test]
fn malformed_headers_are_refused_saying_why() {
    let sig = "ab".repeat(32);
    let cases = [
        (format!("v1={sig}"), "no t="),
        (format!("t={NOW}"), "no v1="),
        (format!("t={NOW},v0={sig}"), "no v1="),
        (format!("t=now,v1={sig}"), "Unix time"),
        (format!("t=-5,v1={sig}"), "Unix time"),
        (format!("t=,v1={sig}"), "Unix time"),
        (format!("t=9999999999999999999,v1={sig}"), "Unix time"),
        (format!("t={NOW},t={NOW},v1={sig}"), "more than once"),
        (format!("t={NOW},v1=zz{}", &sig[2..]), "64 hex digits"),
        (format!("t={NOW},v1={}", &sig[2..]), "64 hex digits"),
        (format!("t={NOW},v1={sig}00"), "64 hex digits"),
        (format!("t={NOW},v1="), "64 hex digits"),
        (format!("t={NOW};v1={sig}"), "Unix time"),
        (format!("t={NOW} v1={sig}"), "Unix time"),
        (format!("t={NOW},v1={sig},"), "key=value"),
        (format!("t={NOW},,v1={sig}"), "key=value"),
        (format!("t={NOW},=x,v1={sig}"), "no key"),
        (
            format!("t={NOW},{}", format!("v1={sig},").repeat(9)),
            "more than 8",
        ),
        ("x".repeat(MAX_HEADER_LEN + 1), "longer than 4096"),
        (
            format!("t={NOW},v1={sig},{}", "x".repeat(5000)),
            "longer than 4096",
        ),
    ];
    for (header, reason) in cases {
        let error = check(&header, BODY, &[OLD]).unwrap_err();
        assert_eq!(error.kind(), "malformed_signature", "{header:.80}: {error}");
        assert!(error.to_string().contains(reason), "{header:.80}: {error}");
    }
}

#[test]
fn whitespace_around_elements_and_other_schemes_are_tolerated() {
    let header = sign(OLD, NOW, BODY).replace(",v1=", " , v0=abc, v1=");
    assert_eq!(check(&header, BODY, &[OLD]), Ok(()));
    let upper = sign(OLD, NOW, BODY)
        .to_uppercase()
        .replace("T=", "t=")
        .replace("V1=", "v1=");
    assert_eq!(
        check(&upper, BODY, &[OLD]),
        Ok(()),
        "hex is case-insensitive"
    );
}

#[test]
fn the_error_kinds_name_the_problem() {
    assert_eq!(SignatureError::NoMatch.kind(), "signature_mismatch");
    assert_eq!(SignatureError::Malformed("x").kind(), "malformed_signature");
    let stale = SignatureError::TooOld {
        age_secs: 301,
        tolerance_secs: 300,
    };
    assert_eq!(stale.kind(), "stale_signature");
    assert_eq!(
        stale.to_string(),
        "Commerce-Signature timestamp is 301 s old, beyond the tolerance of 300 s"
    );
}

/// Header-like text: the parser's tokens in any order and count, plus noise.
fn header_like() -> impl Strategy<Value = String> {
    let element = prop_oneof![
        Just("t=".to_owned()),
        Just("v1=".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just(" ".to_owned()),
        "[0-9]{0,20}",
        "[0-9a-fA-F]{60,68}",
        "-?[0-9]{1,19}",
        any::<String>(),
    ];
    prop::collection::vec(element, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn the_parser_never_panics_on_any_text(header in any::<String>()) {
        let _ = SignatureHeader::parse(&header);
        let _ = check(&header, BODY, &[OLD]);
    }

    #[test]
    fn the_parser_never_panics_on_header_like_text(header in header_like()) {
        let _ = check(&header, BODY, &[OLD, NEW]);
    }

    #[test]
    fn what_we_sign_we_verify_and_any_one_byte_change_of_the_body_is_refused(
        body in prop::collection::vec(any::<u8>(), 1..512),
        offset in -300_i64..=300,
        flip in any::<prop::sample::Index>(),
    ) {
        let header = sign(OLD, NOW + offset, &body);
        prop_assert_eq!(check(&header, &body, &[OLD]), Ok(()));
        let mut changed = body.clone();
        changed[flip.index(body.len())] ^= 0x01;
        prop_assert_eq!(check(&header, &changed, &[OLD]), Err(SignatureError::NoMatch));
    }

    #[test]
    fn any_one_byte_change_of_a_valid_header_is_refused(
        body in prop::collection::vec(any::<u8>(), 0..256),
        offset in -300_i64..=300,
        at in any::<prop::sample::Index>(),
        replacement in 0x20_u8..0x7f,
    ) {
        let header = sign(OLD, NOW + offset, &body);
        prop_assert_eq!(check(&header, &body, &[OLD]), Ok(()));
        let mut bytes = header.into_bytes();
        let index = at.index(bytes.len());
        let original = bytes[index];
        // Another case of a hex digit spells the same signature byte: not a change.
        prop_assume!(
            replacement != original
                && !(original.is_ascii_hexdigit() && replacement.eq_ignore_ascii_case(&original))
        );
        bytes[index] = replacement;
        let changed = String::from_utf8(bytes).expect("printable ASCII");
        prop_assert!(
            check(&changed, &body, &[OLD]).is_err(),
            "{changed} still verifies"
        );
    }

    #[test]
    fn a_valid_header_verifies_under_any_secret_in_rotation(
        body in prop::collection::vec(any::<u8>(), 0..256),
        secret in prop::collection::vec(any::<u8>(), 1..64),
        offset in -300_i64..=300,
    ) {
        let header = sign_all(&[secret.as_slice(), OLD], NOW + offset, &body);
        prop_assert_eq!(check(&header, &body, &[NEW, secret.as_slice()]), Ok(()));
        prop_assert_eq!(check(&header, &body, &[OLD]), Ok(()));
    }
}
