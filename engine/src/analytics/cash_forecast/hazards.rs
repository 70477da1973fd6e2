//! The weekly payment hazards at a forecast date, from the observed weeks that ended by it:
//! for each cell (lateness class × disputed × weeks relative to the due date), the share of
//! the open amount paid in a week and the share that left otherwise; and how much the
//! portfolio's weekly payments wandered around what those hazards expected (the shock).

use super::history::Seen;
use super::{CELLS, REL};

/// A cell needs this many invoice-weeks to give its own hazard; a thinner one borrows its
/// (disputed, weeks-to-due) rate over every class, then its weeks-to-due rate.
pub(super) const MIN_INVOICES: i64 = 30;

/// The hazards of every cell at one forecast date.
#[derive(Debug, Clone)]
pub(super) struct Hazards {
    pub paid: Vec<f64>,
    pub other: Vec<f64>,
    /// Standard deviation of log(paid / expected) over the observed weeks: how far the
    /// portfolio's speed of payment moves from week to week around the hazards.
    pub shock_sd: f64,
    /// Observed weeks the hazards rest on.
    pub weeks: usize,
}

/// The hazards at `t` from the grid weeks that ended by `t` and started within
/// `lookback_weeks` weeks before it; `None` with fewer than `min_weeks` such weeks.
pub(super) fn at(
    seen: &[Seen],
    grid: &[i32],
    t: i32,
    lookback_weeks: u32,
    half_life_weeks: u32,
    min_weeks: usize,
) -> Option<Hazards> {
    let window: Vec<usize> =
        (0..grid.len()).filter(|&g| grid[g] + 7 <= t && grid[g] > t - 7 * lookback_weeks as i32).collect();
    if window.len() < min_weeks {
        return None;
    }
    // Recent weeks count more: each observed week weighs 2^(−age / half_life).
    let weight = |g: usize| 0.5f64.powf(f64::from(t - grid[g]) / (7.0 * f64::from(half_life_weeks)));
    let mut cells = vec![Sums::default(); CELLS];
    for &g in &window {
        let w = weight(g);
        for (x, y) in cells.iter_mut().zip(&seen[g * CELLS..(g + 1) * CELLS]) {
            x.add(y, w);
        }
    }
    // Pooled over classes (per disputed × weeks to due), and over everything (per weeks to due).
    let mut by_dispute = vec![Sums::default(); 2 * REL];
    let mut by_rel = vec![Sums::default(); REL];
    for (i, s) in cells.iter().enumerate() {
        let (disputed, rel) = ((i / REL) % 2, i % REL);
        by_dispute[disputed * REL + rel].merge(s);
        by_rel[rel].merge(s);
    }
    let (mut paid, mut other) = (vec![0.0; CELLS], vec![0.0; CELLS]);
    for i in 0..CELLS {
        let (disputed, rel) = ((i / REL) % 2, i % REL);
        let pick = [&cells[i], &by_dispute[disputed * REL + rel], &by_rel[rel]]
            .into_iter()
            .find(|s| s.invoices >= MIN_INVOICES)
            .unwrap_or(&by_rel[rel]);
        if pick.open > 0.0 {
            paid[i] = pick.paid / pick.open;
            other[i] = pick.other / pick.open;
        }
    }
    // The weeks' paid amounts against what the hazards expected of their open amounts.
    let logs: Vec<f64> = window
        .iter()
        .filter_map(|&g| {
            let week = &seen[g * CELLS..(g + 1) * CELLS];
            let actual: i64 = week.iter().map(|s| s.paid).sum();
            let expected: f64 = week.iter().zip(&paid).map(|(s, h)| s.open as f64 * h).sum();
            (actual > 0 && expected > 0.0).then(|| (actual as f64 / expected).ln())
        })
        .collect();
    let shock_sd = if logs.len() < 2 {
        0.0
    } else {
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (logs.len() - 1) as f64).sqrt()
    };
    Some(Hazards { paid, other, shock_sd, weeks: window.len() })
}

/// Weighted sums of a cell's observed weeks.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    open: f64,
    paid: f64,
    other: f64,
    /// Invoice-weeks, unweighted: how much evidence the cell has.
    invoices: i64,
}

impl Sums {
    fn add(&mut self, s: &Seen, w: f64) {
        self.open += w * s.open as f64;
        self.paid += w * s.paid as f64;
        self.other += w * s.other as f64;
        self.invoices += s.invoices;
    }

    fn merge(&mut self, o: &Sums) {
        self.open += o.open;
        self.paid += o.paid;
        self.other += o.other;
        self.invoices += o.invoices;
    }
}
