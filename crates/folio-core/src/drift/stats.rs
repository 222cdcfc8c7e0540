//! Exact drift statistics between a reference and a current sample.
//!
//! Every formula is in docs/DRIFT.md. Conventions, the same everywhere:
//! natural logarithms for PSI and KL; Jensen–Shannon is a *divergence* in
//! bits (base-2 logarithms, 0..1), not the distance (its square root) that
//! `scipy.spatial.distance.jensenshannon` returns; the zero-bin policy
//! ([`smoothed`]) is applied to PSI and KL alike and to nothing else.

/// A distribution over bins or categories, as counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts(pub Vec<u64>);

impl Counts {
    /// Total count.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Proportions (all zero when empty).
    pub fn proportions(&self) -> Vec<f64> {
        let n = self.total();
        self.0
            .iter()
            .map(|&c| if n == 0 { 0.0 } else { c as f64 / n as f64 })
            .collect()
    }
}

/// The zero-bin policy for PSI and KL: a bin with no observations on one
/// side gets half an observation, `0.5 / n` of that side (no renormalisation);
/// other bins keep their exact proportions.
pub fn smoothed(c: &Counts) -> Vec<f64> {
    let n = c.total().max(1) as f64;
    c.0.iter()
        .map(|&k| if k == 0 { 0.5 / n } else { k as f64 / n })
        .collect()
}

/// Smoothed proportions of the bins observed on at least one side: a bin
/// empty on both sides holds no evidence and is left out.
fn smoothed_pairs(reference: &Counts, current: &Counts) -> Vec<(f64, f64)> {
    let (p, q) = (smoothed(reference), smoothed(current));
    p.into_iter()
        .zip(q)
        .zip(reference.0.iter().zip(&current.0))
        .filter(|(_, (a, b))| **a > 0 || **b > 0)
        .map(|(pq, _)| pq)
        .collect()
}

/// Population stability index, Σ (q − p) ln(q / p), with the zero-bin
/// policy, over the bins observed on either side.
pub fn psi(reference: &Counts, current: &Counts) -> f64 {
    smoothed_pairs(reference, current)
        .iter()
        .map(|(p, q)| (q - p) * (q / p).ln())
        .sum()
}

/// Kullback–Leibler divergence KL(reference ‖ current), Σ p ln(p / q), in
/// nats, with the zero-bin policy, over the bins observed on either side.
pub fn kl(reference: &Counts, current: &Counts) -> f64 {
    smoothed_pairs(reference, current)
        .iter()
        .map(|(p, q)| p * (p / q).ln())
        .sum()
}

/// Jensen–Shannon divergence in bits (0..1): ½ KL₂(p ‖ m) + ½ KL₂(q ‖ m)
/// with m = (p + q) / 2; empty bins contribute 0 (no smoothing needed).
pub fn jensen_shannon(reference: &Counts, current: &Counts) -> f64 {
    let (p, q) = (reference.proportions(), current.proportions());
    let term = |a: f64, m: f64| if a > 0.0 { a * (a / m).log2() } else { 0.0 };
    p.iter()
        .zip(&q)
        .map(|(&p, &q)| {
            let m = (p + q) / 2.0;
            0.5 * term(p, m) + 0.5 * term(q, m)
        })
        .sum::<f64>()
        .clamp(0.0, 1.0)
}

/// Hellinger distance (0..1): sqrt(½ Σ (√p − √q)²).
pub fn hellinger(reference: &Counts, current: &Counts) -> f64 {
    let (p, q) = (reference.proportions(), current.proportions());
    let s: f64 = p
        .iter()
        .zip(&q)
        .map(|(p, q)| (p.sqrt() - q.sqrt()).powi(2))
        .sum();
    (s / 2.0).sqrt()
}

/// L-infinity distance: the largest change of one category's share.
pub fn l_infinity(reference: &Counts, current: &Counts) -> f64 {
    let (p, q) = (reference.proportions(), current.proportions());
    p.iter()
        .zip(&q)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

/// Two-sample chi-square test of homogeneity on the 2 × k contingency
/// table (categories empty on both sides dropped): the statistic, degrees
/// of freedom and p-value. No continuity correction.
pub fn chi_square(reference: &Counts, current: &Counts) -> (f64, u64, f64) {
    let cols: Vec<(f64, f64)> = reference
        .0
        .iter()
        .zip(&current.0)
        .filter(|(a, b)| **a + **b > 0)
        .map(|(&a, &b)| (a as f64, b as f64))
        .collect();
    let (n1, n2) = (reference.total() as f64, current.total() as f64);
    let n = n1 + n2;
    if cols.len() < 2 || n1 == 0.0 || n2 == 0.0 {
        return (0.0, 0, 1.0);
    }
    let mut stat = 0.0;
    for (a, b) in &cols {
        let col = a + b;
        let (e1, e2) = (n1 * col / n, n2 * col / n);
        stat += (a - e1).powi(2) / e1 + (b - e2).powi(2) / e2;
    }
    let dof = cols.len() as u64 - 1;
    (stat, dof, chi_square_sf(stat, dof))
}

/// P(X ≥ x) for X chi-square with `dof` degrees of freedom: the regularised
/// upper incomplete gamma function Q(dof/2, x/2).
pub fn chi_square_sf(x: f64, dof: u64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(dof as f64 / 2.0, x / 2.0)
}

/// Regularised upper incomplete gamma Q(a, x), by its series for x < a + 1
/// and by its continued fraction (modified Lentz) otherwise.
fn gamma_q(a: f64, x: f64) -> f64 {
    let ln_pre = a * x.ln() - x - libm::lgamma(a);
    if x < a + 1.0 {
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_pre.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_pre.exp() * h).clamp(0.0, 1.0)
    }
}

/// Two-sided p-value of a standard normal statistic.
pub fn normal_two_sided(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Two-proportion z-test (pooled) of `k1` of `n1` against `k2` of `n2`:
/// the statistic and its two-sided p-value; (0, 1) when undefined.
pub fn two_proportion_z(k1: u64, n1: u64, k2: u64, n2: u64) -> (f64, f64) {
    if n1 == 0 || n2 == 0 {
        return (0.0, 1.0);
    }
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let p = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return (0.0, 1.0);
    }
    let z = (p2 - p1) / se;
    (z, normal_two_sided(z))
}

/// Samples up to this size get the exact two-sample p-value (as scipy's
/// `ks_2samp` in its default mode); larger ones the Kolmogorov limit.
pub const KS_EXACT_MAX: usize = 10_000;

/// Two-sample Kolmogorov–Smirnov statistic D = sup |F_ref − F_cur| over
/// sorted samples, and its two-sided p-value P(D ≥ d) under the null:
/// exact when both samples have at most [`KS_EXACT_MAX`] values (the
/// proportion of lattice paths that leave the band, docs/DRIFT.md), the
/// Kolmogorov distribution at √(n m / (n + m)) · D otherwise.
pub fn ks(reference: &[f64], current: &[f64]) -> (f64, f64) {
    let (n, m) = (reference.len(), current.len());
    if n == 0 || m == 0 {
        return (0.0, 1.0);
    }
    // D in integers: |i/n − j/m| = |i·m − j·n| / (n·m).
    let (mut i, mut j, mut h) = (0usize, 0usize, 0u64);
    while i < n && j < m {
        let x = reference[i].min(current[j]);
        while i < n && reference[i] <= x {
            i += 1;
        }
        while j < m && current[j] <= x {
            j += 1;
        }
        h = h.max((i as u64 * m as u64).abs_diff(j as u64 * n as u64));
    }
    let d = h as f64 / (n as f64 * m as f64);
    if h == 0 {
        return (0.0, 1.0);
    }
    if n.max(m) <= KS_EXACT_MAX {
        return (d, ks_exact_outside(n, m, h));
    }
    let en = (n as f64 * m as f64 / (n + m) as f64).sqrt();
    (d, kolmogorov_sf(en * d))
}

/// P(D ≥ h / (n·m)) for samples of `n` and `m` values: the proportion of
/// the C(n+m, n) monotone lattice paths from (0, 0) to (n, m) that reach
/// |x·m − y·n| ≥ h somewhere.
///
/// With Q(x, y) the proportion of paths to (x, y) that have left the band
/// (|x·m − y·n| < h) by then, a point outside has Q = 1, and a point
/// inside is reached from (x−1, y) or (x, y−1) by C(x+y−1, y) and
/// C(x+y−1, y−1) of its C(x+y, y) paths, so
/// Q(x, y) = (x·Q(x−1, y) + y·Q(x, y−1)) / (x + y).
/// Carrying the proportion that left (not the one that stayed) keeps small
/// p-values accurate: nothing is subtracted from 1. One column of `m + 1`
/// values at a time.
fn ks_exact_outside(n: usize, m: usize, h: u64) -> f64 {
    let (n64, m64) = (n as u64, m as u64);
    // Points outside the band hold 1; the band moves up with x, so a
    // column only computes its band (O(n·h/n) work, not O(n·m)), and a
    // value above the last band is still the initial 1.
    let band = |x: u64| -> (usize, usize) {
        let lo = if x * m64 < h {
            0
        } else {
            (x * m64 - h) / n64 + 1
        };
        let hi = ((x * m64 + h - 1) / n64).min(m64);
        (lo as usize, hi as usize)
    };
    let mut col = vec![1.0f64; m + 1];
    let (_, hi0) = band(0);
    col[0] = 0.0;
    for y in 1..=hi0 {
        col[y] = col[y - 1];
    }
    for x in 1..=n {
        let (lo, hi) = band(x as u64);
        if lo > hi {
            return 1.0; // no path stays inside
        }
        if lo > 0 {
            col[lo - 1] = 1.0;
        }
        let xf = x as f64;
        for y in lo..=hi {
            let below = if y == 0 { 0.0 } else { col[y - 1] };
            col[y] = (xf * col[y] + y as f64 * below) / (x + y) as f64;
        }
    }
    col[m].clamp(0.0, 1.0)
}

/// P(K > λ) for the Kolmogorov distribution: 2 Σ (−1)^(k−1) e^(−2k²λ²).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut s = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let t = (-2.0 * k * k * lambda * lambda).exp();
        s += if k as u64 % 2 == 1 { t } else { -t };
        if t < 1e-18 {
            break;
        }
    }
    (2.0 * s).clamp(0.0, 1.0)
}

/// Wasserstein-1 distance between two sorted samples: ∫ |F_ref − F_cur| dx.
pub fn wasserstein(reference: &[f64], current: &[f64]) -> f64 {
    let (n, m) = (reference.len(), current.len());
    if n == 0 || m == 0 {
        return 0.0;
    }
    let (mut i, mut j) = (0usize, 0usize);
    let mut x = reference[0].min(current[0]);
    let mut area = 0.0;
    while i < n || j < m {
        let next = match (reference.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        area += (i as f64 / n as f64 - j as f64 / m as f64).abs() * (next - x);
        x = next;
        while i < n && reference[i] <= x {
            i += 1;
        }
        while j < m && current[j] <= x {
            j += 1;
        }
    }
    area
}

/// Bin edges from the reference's quantiles: `bins` bins, interior edges at
/// the k/bins quantiles (nearest-rank on the sorted sample), duplicates
/// removed; the outer bins are open (−∞, e₁] and (e_last, +∞), so values of
/// the current sample outside the reference's range fall in them. When the
/// lowest edge is the reference's minimum, the float just below it is added
/// as an edge: values below the minimum then have a bin of their own.
pub fn quantile_edges(sorted_reference: &[f64], bins: usize) -> Vec<f64> {
    let n = sorted_reference.len();
    let mut edges: Vec<f64> = Vec::new();
    if n == 0 || bins < 2 {
        return edges;
    }
    for k in 1..bins {
        let rank = (k * n).div_ceil(bins).clamp(1, n);
        let e = sorted_reference[rank - 1];
        if edges.last() != Some(&e) {
            edges.push(e);
        }
    }
    // When the lowest edge is the reference's minimum (ties at the bottom),
    // bin 0 would hold the minimum and everything below it alike, and a
    // current side below the reference's range would look the same as the
    // reference: values below the minimum get a bin of their own.
    if let Some(&lo) = edges.first()
        && lo == sorted_reference[0]
        && lo.is_finite()
    {
        edges.insert(0, lo.next_down());
    }
    edges
}

/// Counts of a sorted sample in the bins `edges` define: bin 0 is
/// (−∞, e₀], bin i is (e_{i−1}, e_i], the last is (e_last, +∞).
pub fn bin_counts(sorted: &[f64], edges: &[f64]) -> Counts {
    let mut out = vec![0u64; edges.len() + 1];
    let mut start = 0usize;
    for (b, e) in edges.iter().enumerate() {
        let end = start + sorted[start..].partition_point(|v| v <= e);
        out[b] = (end - start) as u64;
        start = end;
    }
    out[edges.len()] = (sorted.len() - start) as u64;
    Counts(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// The worked example of the drift issue (values computed there
    /// independently): reference 50/30/20 against current 30/30/40.
    #[test]
    fn categorical_check_values() {
        let (r, c) = (Counts(vec![50, 30, 20]), Counts(vec![30, 30, 40]));
        assert!(close(psi(&r, &c), 0.2407946, 5e-8), "{}", psi(&r, &c));
        assert!(close(kl(&r, &c), 0.1167834, 5e-8), "{}", kl(&r, &c));
        assert!(close(jensen_shannon(&r, &c), 0.0427376, 5e-8));
        assert!(close(hellinger(&r, &c), 0.1727974, 5e-8));
        assert!(close(l_infinity(&r, &c), 0.2, 1e-12));
        let (stat, dof, p) = chi_square(&r, &c);
        assert!(close(stat, 11.6667, 5e-5), "{stat}");
        assert_eq!(dof, 2);
        assert!(close(p, 0.0029283, 5e-8), "{p}");
    }

    #[test]
    fn identical_samples_show_no_drift() {
        let c = Counts(vec![7, 0, 3]);
        assert_eq!(psi(&c, &c), 0.0);
        assert_eq!(kl(&c, &c), 0.0);
        assert_eq!(jensen_shannon(&c, &c), 0.0);
        assert_eq!(hellinger(&c, &c), 0.0);
        let xs = [1.0, 2.0, 2.0, 5.0];
        assert_eq!(ks(&xs, &xs), (0.0, 1.0));
        assert_eq!(wasserstein(&xs, &xs), 0.0);
    }

    /// Closed forms: a shift of every value by s moves Wasserstein by s;
    /// disjoint samples have KS D = 1 and JS = 1 bit; chi-square with 1
    /// degree of freedom at 3.841459 has p = 0.05 (the normal's 1.96²);
    /// the two-sided normal p at 1.959964 is 0.05.
    #[test]
    fn closed_forms() {
        let a = [0.0, 1.0, 2.0, 3.0];
        let b = [0.5, 1.5, 2.5, 3.5];
        assert!(close(wasserstein(&a, &b), 0.5, 1e-12));
        let far = [10.0, 11.0];
        assert_eq!(ks(&a, &far).0, 1.0);
        assert!(close(
            jensen_shannon(&Counts(vec![5, 0]), &Counts(vec![0, 5])),
            1.0,
            1e-12
        ));
        assert!(close(chi_square_sf(3.841459, 1), 0.05, 1e-6));
        assert!(close(chi_square_sf(2.0, 2), (-1.0f64).exp(), 1e-12));
        assert!(close(normal_two_sided(1.959964), 0.05, 1e-6));
        let (z, p) = two_proportion_z(10, 100, 10, 100);
        assert_eq!((z, p), (0.0, 1.0));
    }

    #[test]
    fn quantile_bins_cover_every_value() {
        let r: Vec<f64> = (1..=100).map(f64::from).collect();
        let edges = quantile_edges(&r, 10);
        assert_eq!(
            edges,
            (1..10).map(|k| f64::from(k * 10)).collect::<Vec<_>>()
        );
        let counts = bin_counts(&r, &edges);
        assert_eq!(counts.0, vec![10; 10]);
        let cur = [-5.0, 10.0, 10.5, 1000.0];
        assert_eq!(
            bin_counts(&cur, &edges).0,
            vec![2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        // A constant reference: below it, it, above it (the float just
        // below 3 is 3 − 2⁻⁵¹, one unit in the last place of [2, 4)).
        assert_eq!(
            quantile_edges(&[3.0; 8], 10),
            vec![3.0 - f64::powi(2.0, -51), 3.0]
        );
        assert_eq!(
            bin_counts(&[1.0, 3.0, 3.0, 7.0], &[3.0f64.next_down(), 3.0]).0,
            vec![1, 2, 1]
        );
        // Ties at the bottom of a wider reference: the same extra bin.
        let tied = [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_edges(&tied, 4)[..2], [0.0f64.next_down(), 0.0]);
    }

    /// scipy's `ks_2samp` (exact mode) on the cases
    /// tests/golden/drift_expect.py wrote: D exactly, the p-value to 1e-9
    /// relative (the cases reach 3e-11).
    #[test]
    fn ks_matches_scipy_exact_p_values() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/golden/drift/expected.json");
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("golden")).expect("json");
        let cases = exp["ks_exact"].as_array().expect("cases");
        assert!(cases.len() >= 12);
        assert!(
            cases
                .iter()
                .any(|c| c["reference"].as_array().map(Vec::len) == Some(5000)),
            "samples up to 5,000 values"
        );
        for c in cases {
            let sorted = |k: &str| {
                let mut v: Vec<f64> = c[k]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|x| x.as_f64().expect("number"))
                    .collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let (a, b) = (sorted("reference"), sorted("current"));
            let (d, p) = ks(&a, &b);
            let (wd, wp) = (c["d"].as_f64().expect("d"), c["p"].as_f64().expect("p"));
            assert!(
                (d - wd).abs() < 1e-12,
                "{}x{}: D {d} vs {wd}",
                a.len(),
                b.len()
            );
            assert!(
                (p - wp).abs() <= 1e-9 * wp.max(1e-300),
                "{}x{}: p {p:e} vs scipy {wp:e}",
                a.len(),
                b.len()
            );
        }
    }
}
