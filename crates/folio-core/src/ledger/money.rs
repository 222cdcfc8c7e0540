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
    /// More decimals than a cost is recorded with.
    #[error(
        "{amount} has more than {digits} decimals: a cost in {currency} is recorded to at most {MAX_FINE} decimals below its minor unit"
    )]
    TooFine {
        /// The amount given.
        amount: String,
        /// The currency.
        currency: String,
        /// The decimals recorded at most.
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
    parse_digits(amount, digits, currency)
}

/// Parses a decimal amount into units of 10^-`digits`.
fn parse_digits(amount: &str, digits: u32, currency: &str) -> Result<i64, MoneyError> {
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

/// How many decimals below the minor unit an example's cost may have (a
/// labelling cost of 0.000125 EUR is 0.0125 cents: `fine` 4 of at most 6).
pub const MAX_FINE: u32 = 6;

/// Millionths of a minor unit per minor unit: the unit of exact
/// per-example costs ([`parse_micros`]).
pub const MICROS: i128 = 1_000_000;

/// Parses a decimal amount exactly into millionths of `currency`'s minor
/// unit: up to [`MAX_FINE`] more decimals than the currency has (a
/// per-item labelling cost of a fraction of a cent). Such amounts are
/// rounded only where they are booked ([`round_micros`], docs/BOOK.md).
pub fn parse_micros(amount: &str, currency: &str) -> Result<i128, MoneyError> {
    let digits = exponent(currency).ok_or_else(|| MoneyError::UnknownCurrency(currency.into()))?;
    let a = amount.trim();
    let frac_len = a.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
    if frac_len > digits + MAX_FINE {
        return Err(MoneyError::TooFine {
            amount: a.into(),
            currency: currency.into(),
            digits: digits + MAX_FINE,
        });
    }
    let fine = frac_len.saturating_sub(digits);
    // Parse as if the currency had `fine` more minor digits.
    let units = parse_digits(a, digits + fine, currency)?;
    Ok(i128::from(units) * 10i128.pow(MAX_FINE - fine))
}

/// The fewest decimals below the minor unit that hold `micros` exactly.
pub fn fine_of(micros: i128) -> u32 {
    (0..MAX_FINE)
        .find(|f| micros % 10i128.pow(MAX_FINE - f) == 0)
        .unwrap_or(MAX_FINE)
}

/// Millionths of a minor unit rounded to the minor unit, half away from
/// zero (as a spreadsheet's ROUND does).
pub fn round_micros(micros: i128) -> i128 {
    let (q, r) = (micros / MICROS, micros % MICROS);
    if r.abs() * 2 >= MICROS {
        q + micros.signum()
    } else {
        q
    }
}

/// Formats millionths of `currency`'s minor unit exactly: the currency's
/// decimals, and as many more as the amount needs.
pub fn format_micros(micros: i128, currency: &str) -> String {
    let digits = exponent(currency).unwrap_or(2);
    let fine = fine_of(micros);
    let units = micros / 10i128.pow(MAX_FINE - fine);
    let places = digits + fine;
    if places == 0 {
        return units.to_string();
    }
    let scale = 10i128.pow(places);
    let sign = if units < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        (units / scale).abs(),
        (units % scale).abs(),
        width = places as usize
    )
}

/// Serializes amounts in millionths of the minor unit, keyed by currency,
/// as exact decimal strings (`{"EUR": "12.001"}`): JSON numbers are read
/// as binary floats by most consumers.
pub fn exact_map<S: serde::Serializer>(
    m: &std::collections::BTreeMap<String, i128>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(m.iter().map(|(c, v)| (c, format_micros(*v, c))))
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

    #[test]
    fn costs_finer_than_the_minor_unit_are_exact() {
        // 0.001 EUR is a tenth of a cent: 100,000 millionths of a cent.
        assert_eq!(parse_micros("0.001", "EUR"), Ok(100_000));
        assert_eq!(parse_micros("12.5", "EUR"), Ok(1_250_000_000));
        assert_eq!(parse_micros("0.00000001", "EUR"), Ok(1));
        assert_eq!(parse_micros("0.5", "JPY"), Ok(500_000));
        assert!(matches!(
            parse_micros("0.000000001", "EUR"),
            Err(MoneyError::TooFine { digits: 8, .. })
        ));
        assert_eq!(format_micros(100_000, "EUR"), "0.001");
        assert_eq!(format_micros(1_250_000_000, "EUR"), "12.50");
        assert_eq!(format_micros(500_000, "JPY"), "0.5");
        assert_eq!(format_micros(7, "JPY"), "0.000007");
        assert_eq!(fine_of(100_000), 1);
        assert_eq!(fine_of(2_000_000), 0);
        // Half away from zero: 0.005 EUR is half a cent.
        assert_eq!(round_micros(500_000), 1);
        assert_eq!(round_micros(499_999), 0);
        assert_eq!(round_micros(2_500_000), 3);
        for text in ["0.001", "3.14159", "1000", "0.00000099"] {
            let m = parse_micros(text, "EUR").expect("valid");
            assert_eq!(
                parse_micros(&format_micros(m, "EUR"), "EUR"),
                Ok(m),
                "{text}"
            );
        }
    }
}
