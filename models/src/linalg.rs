//! The little dense algebra the solvers need: symmetric positive definite solves on
//! matrices of a few dozen rows (Newton steps), in plain loops.

/// Solve `a x = b` for symmetric positive definite `a` (row-major, `n × n`) by Cholesky.
/// `None` when `a` is not positive definite.
pub fn solve_spd(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

/// `ln(1 + e^x)` without overflow.
pub fn softplus(x: f64) -> f64 {
    softplus_sigmoid(x).0
}

/// `softplus(x)` and `sigmoid(x)` from one exponential, bit for bit what each computes alone.
pub fn softplus_sigmoid(x: f64) -> (f64, f64) {
    let t = (-x.abs()).exp();
    let softplus = if x > 0.0 { x + t.ln_1p() } else { t.ln_1p() };
    (softplus, if x >= 0.0 { 1.0 / (1.0 + t) } else { t / (1.0 + t) })
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The log-odds of `p` (clipped away from 0 and 1).
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x_true = [1.0, -2.0, 0.5];
        let b: Vec<f64> = (0..3).map(|i| (0..3).map(|j| a[i * 3 + j] * x_true[j]).sum()).collect();
        let x = solve_spd(&a, &b).expect("positive definite");
        for (x, t) in x.iter().zip(x_true) {
            assert!((x - t).abs() < 1e-12);
        }
        assert!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]).is_none());
    }

    #[test]
    fn logistic_helpers_are_stable_at_the_extremes() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0 && softplus(-1000.0) < 1e-300);
        assert!((sigmoid(logit(0.3)) - 0.3).abs() < 1e-12);
        assert_eq!(sigmoid(-1000.0), 0.0);
        for x in [-800.0, -30.5, -1.0, -1e-9, 0.0, 1e-9, 0.7, 40.0, 800.0] {
            assert_eq!(softplus_sigmoid(x).1.to_bits(), sigmoid(x).to_bits(), "sigmoid at {x}");
        }
    }
}
