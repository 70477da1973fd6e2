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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::analytics::cash_forecast::cell;

    fn seen(open: i64, paid: i64, other: i64, invoices: i64) -> Seen {
        Seen { open, paid, other, invoices }
    }

    #[test]
    fn a_cell_with_enough_invoices_has_its_own_rates_and_a_thin_one_borrows() {
        // Two observed weeks, starting on days 0 and 7; forecasts at day 14.
        let grid = [0, 7];
        let mut s = vec![Seen::default(); 2 * CELLS];
        // Class 3, not disputed, due the day the week starts: 40 invoices, 10 000 open.
        let rich = cell(3, false, 0, 0);
        s[rich] = seen(6_000, 3_000, 600, 20);
        s[CELLS + rich] = seen(4_000, 1_000, 0, 20);
        // Class 5 at the same position: only 10 invoice-weeks, so it borrows its position's
        // rate over every class (its own 90% would be noise).
        let thin = cell(5, false, 0, 0);
        s[thin] = seen(1_000, 900, 0, 10);
        // Equal weights (a very long half-life): pooled over the two weeks.
        let h = at(&s, &grid, 14, 52, 100_000, 1).unwrap();
        assert!((h.paid[rich] - 4_000.0 / 10_000.0).abs() < 1e-4, "{}", h.paid[rich]);
        assert!((h.other[rich] - 600.0 / 10_000.0).abs() < 1e-4);
        let pooled = (3_000.0 + 1_000.0 + 900.0) / (6_000.0 + 4_000.0 + 1_000.0);
        assert!((h.paid[thin] - pooled).abs() < 1e-4, "{} vs {pooled}", h.paid[thin]);
        // A half-life of one week: the week that ended at 14 weighs twice the one before.
        let h = at(&s, &grid, 14, 52, 1, 1).unwrap();
        let (w0, w1) = (0.5f64.powf(2.0), 0.5f64.powf(1.0));
        let expected = (w0 * 3_000.0 + w1 * 1_000.0) / (w0 * 6_000.0 + w1 * 4_000.0);
        assert!((h.paid[rich] - expected).abs() < 1e-12);
        // Too few weeks observed by the date: no forecast.
        assert!(at(&s, &grid, 14, 52, 4, 3).is_none());
        // Weeks that had not ended by the date are not read.
        assert_eq!(at(&s, &grid, 13, 52, 4, 1).unwrap().weeks, 1);
    }
}
