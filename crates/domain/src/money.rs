//! Money as integer minor units with a currency: no floating point anywhere near a balance.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest single amount (a milestone, a payment, an invoice, a payout, a debt): 10^12
/// minor units, ten billion in a currency with cents. Far beyond any freelance contract, and
/// far enough below `i64::MAX` (about 9.2 × 10^18) that no sum the marketplace forms can
/// overflow: a balance is bounded by [`MAX_BALANCE_MINOR`], and one more amount on top of
/// it still fits. The databases refuse values outside these bounds as well.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// The largest balance (available, or owed to the platform): 10^15 minor units, a thousand
/// of the largest amounts. A credit that would pass it is refused rather than stored.
pub const MAX_BALANCE_MINOR: i64 = 1_000_000_000_000_000;

/// An ISO 4217 currency code, three upper-case ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Why a money value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("currency must be three upper-case letters such as USD or EUR, got {0:?}")]
    BadCurrency(String),
    #[error("amount must be zero or more minor units (cents), got {0}")]
    Negative(i64),
    #[error("cannot combine {0} and {1} amounts")]
    Mismatch(Currency, Currency),
    #[error("amount is too large")]
    Overflow,
    #[error("amount must be at most {MAX_AMOUNT_MINOR} minor units, got {0}")]
    TooLarge(i64),
}

impl Currency {
    /// Parses a currency code such as `USD`.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(|c| c.is_ascii_uppercase()) {
            Ok(Self([b[0], b[1], b[2]]))
        } else {
            Err(MoneyError::BadCurrency(s.chars().take(16).collect()))
        }
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // The constructor only admits ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
    /// US dollars, the demo's currency.
    pub const USD: Currency = Currency(*b"USD");
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents) of a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Amount in minor units, e.g. cents.
    pub minor: i64,
    /// ISO 4217 code.
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
}

impl Money {
    /// A non-negative amount.
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative(minor));
        }
        Ok(Self { minor, currency })
    }
    /// An amount a member may ask to move: above zero and at most [`MAX_AMOUNT_MINOR`].
    pub fn payable(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::Negative(minor));
        }
        if minor > MAX_AMOUNT_MINOR {
            return Err(MoneyError::TooLarge(minor));
        }
        Ok(Self { minor, currency })
    }
    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }
    /// Sum of two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::Mismatch(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }
    /// True when the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }
}

impl fmt::Display for Money {
    /// `USD 1,234.50`: currencies with other minor-unit exponents are rare enough on a
    /// freelance marketplace that two decimals are the display default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = crate::fmt::thousands((self.minor / 100).unsigned_abs());
        let cents = (self.minor % 100).abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(f, "{} {sign}{units}.{cents:02}", self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_strict() {
        assert!(Currency::parse("USD").is_ok());
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("USDX").is_err());
    }

    #[test]
    fn display_groups_thousands() {
        let m = Money::new(123_456_789, Currency::USD).unwrap();
        assert_eq!(m.to_string(), "USD 1,234,567.89");
        assert_eq!(Money::zero(Currency::USD).to_string(), "USD 0.00");
        let owed = Money {
            minor: -123_456,
            currency: Currency::USD,
        };
        assert_eq!(owed.to_string(), "USD -1,234.56");
        let cents = Money {
            minor: -5,
            currency: Currency::USD,
        };
        assert_eq!(cents.to_string(), "USD -0.05");
    }

    #[test]
    fn no_negative_or_mixed_sums() {
        assert_eq!(Money::new(-1, Currency::USD), Err(MoneyError::Negative(-1)));
        let eur = Currency::parse("EUR").unwrap();
        let a = Money::new(1, Currency::USD).unwrap();
        let b = Money::new(1, eur).unwrap();
        assert!(matches!(a.checked_add(b), Err(MoneyError::Mismatch(..))));
        assert!(Money::payable(MAX_AMOUNT_MINOR, Currency::USD).is_ok());
        assert_eq!(
            Money::payable(MAX_AMOUNT_MINOR + 1, Currency::USD),
            Err(MoneyError::TooLarge(MAX_AMOUNT_MINOR + 1))
        );
        assert!(Money::payable(0, Currency::USD).is_err());
        let big = Money::new(i64::MAX, Currency::USD).unwrap();
        assert_eq!(big.checked_add(a), Err(MoneyError::Overflow));
    }
}
