//! Depreciation of one lot: methods, conventions and exact money.
//!
//! A lot's depreciable amount D = cost − residual is charged over its useful
//! life. Each method defines the cumulative share F of D charged after τ
//! months of service; a convention maps calendar months to τ; the charge of
//! a month is round(D·F(τ_end)) − round(D·F(τ_start)), so every schedule
//! sums to exactly D (docs/BOOK.md).

use serde::{Deserialize, Serialize};

/// How a lot is depreciated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum Method {
    /// Equal charges.
    StraightLine,
    /// A constant rate `factor / life` on the carrying amount, switching to
    /// straight-line when that charges more.
    DecliningBalance {
        /// 2.0 for double-declining, 1.5, …
        factor: f64,
    },
    /// Charges in proportion to the months remaining (sum of the months'
    /// digits).
    SumOfYearsDigits,
    /// Charges in proportion to recorded training runs.
    UnitsOfUse {
        /// Training runs expected over the lot's life.
        expected_runs: u64,
    },
}

/// When depreciation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Convention {
    /// A full month's charge in the month placed in service.
    FullMonth,
    /// Half a month's charge in the first month and half in the month
    /// after the life ends.
    MidMonth,
    /// From the month after the one placed in service.
    NextMonth,
}

impl Method {
    /// Its name in config and output.
    pub fn name(&self) -> &'static str {
        match self {
            Method::StraightLine => "straight-line",
            Method::DecliningBalance { .. } => "declining-balance",
            Method::SumOfYearsDigits => "sum-of-years-digits",
            Method::UnitsOfUse { .. } => "units-of-use",
        }
    }
}

impl Convention {
    /// Its name in config and output.
    pub fn name(self) -> &'static str {
        match self {
            Convention::FullMonth => "full-month",
            Convention::MidMonth => "mid-month",
            Convention::NextMonth => "next-month",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Convention> {
        [
            Convention::FullMonth,
            Convention::MidMonth,
            Convention::NextMonth,
        ]
        .into_iter()
        .find(|c| c.name() == s)
    }

    /// Half-months of service elapsed at the end of calendar period `p`
    /// (0 = the month placed in service), capped at the life.
    fn elapsed_halves(self, p: u32, life: u32) -> u32 {
        let h = match self {
            Convention::FullMonth => 2 * (p + 1),
            Convention::MidMonth => 2 * p + 1,
            Convention::NextMonth => 2 * p,
        };
        h.min(2 * life)
    }
}

/// Rounds `num / den` (both ≥ 0) half away from zero.
fn round_div(num: i128, den: i128) -> i128 {
    (2 * num + den) / (2 * den)
}

/// Declining-balance cumulative shares F(t) for t = 0..=life months:
/// the carrying amount falls by `factor / life` a month, or by the
/// straight-line charge over the remaining months when that is larger,
/// never below the residual.
fn declining_shares(cost: f64, residual: f64, life: u32, factor: f64) -> Vec<f64> {
    let d = cost - residual;
    let mut out = vec![0.0];
    let mut bv = cost;
    let rate = factor / f64::from(life);
    for t in 1..=life {
        let remaining = f64::from(life - t + 1);
        let db = bv * rate;
        let sl = (bv - residual) / remaining;
        let charge = db.max(sl).min(bv - residual);
        bv -= charge;
        out.push(if d > 0.0 { (cost - bv) / d } else { 1.0 });
    }
    *out.last_mut().expect("life ≥ 1") = 1.0;
    out
}

/// The monthly charges of a lot: `(period, charge)` for period 0, 1, … (0 =
/// the month placed in service) until it is fully depreciated, or until
/// `periods` for units of use (whose charges depend on `runs`: cumulative
/// training runs by the end of each period).
pub fn charges(
    cost: i64,
    residual: i64,
    life: u32,
    method: &Method,
    convention: Convention,
    runs: &dyn Fn(u32) -> u64,
    periods: u32,
) -> Vec<i64> {
    let d = i128::from(cost - residual);
    let mut out = Vec::new();
    let mut prev: i128 = 0;
    let shares = match method {
        Method::DecliningBalance { factor } => {
            declining_shares(cost as f64, residual as f64, life, *factor)
        }
        _ => Vec::new(),
    };
    let cum_at = |p: u32| -> i128 {
        let h = i128::from(convention.elapsed_halves(p, life));
        let l = i128::from(life);
        match method {
            Method::StraightLine => round_div(d * h, 2 * l),
            Method::SumOfYearsDigits => {
                // S(a) = a·L − a(a−1)/2 months' digits after a months.
                let s = |a: i128| a * l - a * (a - 1) / 2;
                let (a, r) = (h / 2, h % 2);
                let num = 2 * s(a) + r * (l - a);
                round_div(d * num, l * (l + 1))
            }
            Method::DecliningBalance { .. } => {
                let f = &shares;
                let (a, r) = ((h / 2) as usize, h % 2);
                let share = if r == 0 {
                    f[a]
                } else {
                    f[a] + 0.5 * (f[(a + 1).min(f.len() - 1)] - f[a])
                };
                if a == life as usize {
                    d
                } else {
                    (d as f64 * share).round() as i128
                }
            }
            Method::UnitsOfUse { expected_runs } => {
                let e = i128::from((*expected_runs).max(1));
                let used = i128::from(runs(p)).min(e);
                round_div(d * used, e)
            }
        }
    };
    let last = match method {
        Method::UnitsOfUse { .. } => periods,
        _ => match convention {
            Convention::FullMonth => life,
            Convention::MidMonth | Convention::NextMonth => life + 1,
        },
    };
    for p in 0..last {
        let cum = cum_at(p);
        out.push((cum - prev) as i64);
        prev = cum;
        if prev == d && !matches!(method, Method::UnitsOfUse { .. }) && p + 1 >= life {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: u32) -> u64 {
        0
    }

    /// The issue's worked examples: cost 120,000.00, residual 0, 18 monthly
    /// periods, full-month.
    #[test]
    fn the_issue_worked_examples() {
        let sl = charges(
            12_000_000,
            0,
            18,
            &Method::StraightLine,
            Convention::FullMonth,
            &none,
            0,
        );
        assert_eq!(&sl[..3], &[666_667, 666_666, 666_667]);
        assert_eq!(sl.len(), 18);
        assert_eq!(sl.iter().sum::<i64>(), 12_000_000);

        let ddb = charges(
            12_000_000,
            0,
            18,
            &Method::DecliningBalance { factor: 2.0 },
            Convention::FullMonth,
            &none,
            0,
        );
        assert_eq!(
            &ddb[..9],
            &[
                1_333_333, 1_185_186, 1_053_497, 936_443, 832_394, 739_905, 657_693, 584_617,
                519_659
            ]
        );
        for (month, c) in ddb.iter().enumerate().skip(9) {
            let want = if month + 1 == 12 || month + 1 == 16 {
                461_920
            } else {
                461_919
            };
            assert_eq!(*c, want, "month {}", month + 1);
        }
        assert_eq!(ddb.iter().sum::<i64>(), 12_000_000);

        let syd = charges(
            12_000_000,
            0,
            18,
            &Method::SumOfYearsDigits,
            Convention::FullMonth,
            &none,
            0,
        );
        assert_eq!(syd[0], 1_263_158);
        assert_eq!(syd[17], 70_175);
        assert_eq!(syd.iter().sum::<i64>(), 12_000_000);
    }

    #[test]
    fn conventions_shift_and_split_the_first_month() {
        let mid = charges(
            1_200,
            0,
            12,
            &Method::StraightLine,
            Convention::MidMonth,
            &none,
            0,
        );
        assert_eq!(mid.len(), 13);
        assert_eq!((mid[0], mid[1], mid[12]), (50, 100, 50));
        let next = charges(
            1_200,
            0,
            12,
            &Method::StraightLine,
            Convention::NextMonth,
            &none,
            0,
        );
        assert_eq!((next[0], next[1], next.len()), (0, 100, 13));
        for c in [mid, next] {
            assert_eq!(c.iter().sum::<i64>(), 1_200);
        }
    }

    #[test]
    fn residual_value_is_never_charged_and_units_follow_runs() {
        let ddb = charges(
            100_000,
            10_000,
            10,
            &Method::DecliningBalance { factor: 2.0 },
            Convention::FullMonth,
            &none,
            0,
        );
        assert_eq!(ddb.iter().sum::<i64>(), 90_000);
        let runs = |p: u32| [1u64, 1, 3, 3, 10][p as usize];
        let u = charges(
            1_000,
            0,
            12,
            &Method::UnitsOfUse { expected_runs: 4 },
            Convention::FullMonth,
            &runs,
            5,
        );
        assert_eq!(u, vec![250, 0, 500, 0, 250], "capped at the expected runs");
    }
}
