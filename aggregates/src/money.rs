//! Money: an integer amount of minor units (cents, pence, yen) plus an ISO 4217 currency code.
//!
//! There are no floats anywhere: amounts are `i64` minor units, arithmetic is checked, and mixing
//! currencies is an error rather than a silent conversion.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a [`Money`] or [`Currency`] operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// The code is not three uppercase ASCII letters.
    /// Handle: reject the input as invalid (gRPC `INVALID_ARGUMENT`).
    #[error("invalid currency code {0:?}: expected three uppercase letters")]
    InvalidCurrency(String),
    /// Two amounts in different currencies were combined.
    /// Handle: the caller sent an amount in the wrong currency; do not convert silently.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in `i64` minor units.
    /// Handle: reject the input as invalid; such amounts are never legitimate.
    #[error("amount overflow")]
    Overflow,
}

/// An ISO 4217 currency code: exactly three uppercase ASCII letters, checked on construction
/// and on deserialization. Whether the code is actually assigned by ISO is not checked.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// United States dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Pound sterling.
    pub const GBP: Currency = Currency(*b"GBP");

    /// Parses a code such as `"EUR"`.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(MoneyError::InvalidCurrency(code.to_owned())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        // The bytes are ASCII uppercase letters (checked on construction), so each is a char.
        self.0.iter().try_for_each(|&b| f.write_char(char::from(b)))
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({self})")
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::new(code)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::new(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.to_string()
    }
}

/// An amount of money: `amount_minor` minor units of `currency` (1999 USD = $19.99).
///
/// Serialized as `{"amount_minor": 1999, "currency": "USD"}`. Amounts may be zero or negative
/// as values; the aggregates decide where only positive amounts are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// `amount_minor` minor units of `currency`.
    pub const fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// The amount in minor units.
    pub const fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is greater than zero.
    pub const fn is_positive(&self) -> bool {
        self.amount_minor > 0
    }

    /// Whether the amount is less than zero.
    pub const fn is_negative(&self) -> bool {
        self.amount_minor < 0
    }

    /// `Ok` when `other` is in the same currency.
    pub fn ensure_same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`, same currency only.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.ensure_same_currency(other)?;
        let amount = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self - other`, same currency only. The result may be negative.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.ensure_same_currency(other)?;
        let amount = self
            .amount_minor
            .checked_sub(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self × quantity` (a unit price times a number of items).
    pub fn checked_mul(&self, quantity: u32) -> Result<Money, MoneyError> {
        let amount = self
            .amount_minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }
}

impl fmt::Display for Money {
    /// `1999 USD`: minor units, never a decimal rendering (that needs the currency's exponent,
    /// which is presentation, not domain).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_accepts_three_uppercase_letters_only() {
        assert_eq!(Currency::new("EUR"), Ok(Currency::EUR));
        for bad in ["eur", "EU", "EURO", "", "E1R", "ÉUR"] {
            assert_eq!(
                Currency::new(bad),
                Err(MoneyError::InvalidCurrency(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn money_serializes_as_minor_units_and_code() {
        let money = Money::new(1999, Currency::USD);
        let json = serde_json::to_value(money).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount_minor": 1999, "currency": "USD"})
        );
        assert_eq!(serde_json::from_value::<Money>(json).unwrap(), money);
    }

    #[test]
    fn deserializing_an_invalid_currency_fails() {
        let json = serde_json::json!({"amount_minor": 1, "currency": "usd"});
        assert!(serde_json::from_value::<Money>(json).is_err());
    }

    #[test]
    fn adding_different_currencies_is_an_error() {
        let usd = Money::new(1, Currency::USD);
        let eur = Money::new(1, Currency::EUR);
        assert_eq!(
            usd.checked_add(&eur),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::USD,
                right: Currency::EUR
            })
        );
    }

    #[test]
    fn arithmetic_overflow_is_an_error_not_a_wrap() {
        let max = Money::new(i64::MAX, Currency::USD);
        assert_eq!(
            max.checked_add(&Money::new(1, Currency::USD)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(250, Currency::USD).checked_mul(3),
            Ok(Money::new(750, Currency::USD))
        );
    }

    #[test]
    fn display_shows_minor_units_and_code() {
        assert_eq!(Money::new(-5, Currency::GBP).to_string(), "-5 GBP");
        assert_eq!(format!("{:?}", Currency::GBP), "Currency(GBP)");
    }
}
