//! Validation helpers shared by the aggregates' `decide` functions.

use crate::{error::DomainError, money::Money};

/// Longest accepted name, title or email, in characters.
pub(crate) const MAX_SHORT_TEXT: usize = 200;
/// Longest accepted description or reason, in characters.
pub(crate) const MAX_LONG_TEXT: usize = 2000;

/// `value` trimmed, if non-empty and at most `max_chars` characters.
pub(crate) fn text(
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::Invalid {
            field,
            reason: "must not be empty",
        });
    }
    if trimmed.chars().count() > max_chars {
        return Err(DomainError::Invalid {
            field,
            reason: "is too long",
        });
    }
    Ok(trimmed.to_owned())
}

/// A plausible email address, trimmed: `local@domain` with no whitespace. Deliverability is
/// not the domain's business.
pub(crate) fn email(value: &str) -> Result<String, DomainError> {
    let email = text("email", value, MAX_SHORT_TEXT)?;
    let plausible = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.contains(char::is_whitespace);
    if plausible {
        Ok(email)
    } else {
        Err(DomainError::Invalid {
            field: "email",
            reason: "is not an email address",
        })
    }
}

/// `amount` if it is greater than zero.
pub(crate) fn positive(field: &'static str, amount: Money) -> Result<Money, DomainError> {
    if amount.is_positive() {
        Ok(amount)
    } else {
        Err(DomainError::NonPositiveAmount { field, amount })
    }
}

/// `quantity` if it is in `1..=max`.
pub(crate) fn quantity(field: &'static str, quantity: u32, max: u32) -> Result<u32, DomainError> {
    if (1..=max).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(DomainError::InvalidQuantity {
            field,
            quantity,
            min: 1,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_must_not_be_blank_or_too_long() {
        assert_eq!(text("name", "  Ada ", 10), Ok("Ada".to_owned()));
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
    }

    #[test]
    fn email_needs_a_local_part_and_a_domain() {
        assert!(email("ada@example.com").is_ok());
        for bad in ["ada", "@example.com", "ada@", "a da@example.com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
