//! Money: ISO 4217 currencies and exact amounts in minor units.

use crate::error::ErrorKind;

/// Active ISO 4217 codes with their minor-unit exponents (digits after the
/// decimal point). Codes not listed here are refused.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// The minor-unit exponent of an ISO 4217 code, if it is one.
pub fn exponent(code: &str) -> Option<u32> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

/// Why an amount is refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    /// Not an ISO 4217 code.
    #[error("unknown currency '{0}': use an ISO 4217 code such as EUR, USD or JPY")]
    UnknownCurrency(String),
    /// Not a decimal number.
    #[error("'{0}' is not an amount: write digits with an optional decimal point, e.g. 1250.50")]
    NotAnAmount(String),
    /// Below zero.
    #[error("the amount {0} is negative: a cost basis cannot be")]
    Negative(String),
    /// More decimals than the currency has.
    #[error("{amount} has more decimals than {currency} allows ({digits})")]
    TooPrecise {
        /// The amount given.
        amount: String,
        /// The currency.
        currency: String,
        /// Its minor-unit digits.
        digits: u32,
    },
}

impl MoneyError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// Parses a decimal amount exactly into minor units of `currency`.
pub fn parse_minor(amount: &str, currency: &str) -> Result<i64, MoneyError> {
    let digits = exponent(currency).ok_or_else(|| MoneyError::UnknownCurrency(currency.into()))?;
    let a = amount.trim();
    if a.starts_with('-') {
        return Err(MoneyError::Negative(a.into()));
    }
    let (whole, frac) = a.split_once('.').unwrap_or((a, ""));
    let ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !ok(whole) || !ok(frac) {
        return Err(MoneyError::NotAnAmount(a.into()));
    }
    if frac.len() as u32 > digits {
        return Err(MoneyError::TooPrecise {
            amount: a.into(),
            currency: currency.into(),
            digits,
        });
    }
    let scale = 10i64.pow(digits);
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| MoneyError::NotAnAmount(a.into()))?
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>()
            .map_err(|_| MoneyError::NotAnAmount(a.into()))?
            * 10i64.pow(digits - frac.len() as u32)
    };
    w.checked_mul(scale)
        .and_then(|x| x.checked_add(f))
        .ok_or_else(|| MoneyError::NotAnAmount(a.into()))
}

/// Formats minor units of `currency` as a decimal amount.
pub fn format_minor(minor: i64, currency: &str) -> String {
    format_digits(minor, exponent(currency).unwrap_or(2))
}

/// Formats minor units with `digits` decimals (see [`exponent`]); for
/// callers formatting many amounts of one currency.
pub fn format_digits(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        (minor / scale).abs(),
        (minor % scale).abs(),
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_minor_units() {
        assert_eq!(parse_minor("1250.5", "EUR"), Ok(125_050));
        assert_eq!(parse_minor("1250", "JPY"), Ok(1250));
        assert_eq!(parse_minor("0.125", "BHD"), Ok(125));
        assert_eq!(format_minor(125_050, "EUR"), "1250.50");
        assert!(matches!(
            parse_minor("1.234", "EUR"),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_minor("-3", "EUR"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            parse_minor("3", "EUX"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            parse_minor("1e3", "EUR"),
            Err(MoneyError::NotAnAmount(_))
        ));
    }
}
