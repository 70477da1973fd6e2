//! How one invoice's open amount evolves: applications replayed across a list of dates.
//!
//! Everything "as of `t`" is built on [`walk`]: it visits the as-of dates from the invoice's
//! date on and stops at the first date where the invoice is settled, so the cost is the
//! number of dates the invoice is open, not the length of the history.

use crate::cash::{Applications, SourceKind};
use crate::contracts::RATE_SCALE;

/// Applications to an invoice up to a date, by kind (invoice currency, cents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub paid: i64,
    pub credited: i64,
    pub written_off: i64,
}

impl Settled {
    /// Everything applied.
    pub fn total(&self) -> i64 {
        self.paid + self.credited + self.written_off
    }
}

/// Call `f(k, settled)` for every `dates[k] ≥ doc_date`, with what was applied to invoice `d`
/// by `dates[k]`, up to and including the first date at which nothing is open.
pub fn walk(
    apps: &Applications,
    d: usize,
    doc_date: i32,
    amount: i64,
    dates: &[i32],
    mut f: impl FnMut(usize, Settled),
) {
    let mut it = apps.of_invoice(d).peekable();
    let mut s = Settled::default();
    for (k, &t) in dates.iter().enumerate().skip(dates.partition_point(|&t| t < doc_date)) {
        while let Some(a) = it.next_if(|a| a.date <= t) {
            match a.kind {
                SourceKind::Payment => s.paid += a.amount,
                SourceKind::CreditMemo => s.credited += a.amount,
                SourceKind::WriteOff => s.written_off += a.amount,
            }
        }
        f(k, s);
        if s.total() >= amount {
            break;
        }
    }
}

/// What was applied to invoice `d` by date `t`.
pub fn settled_by(apps: &Applications, d: usize, t: i32) -> Settled {
    let mut s = Settled::default();
    for a in apps.of_invoice(d).take_while(|a| a.date <= t) {
        match a.kind {
            SourceKind::Payment => s.paid += a.amount,
            SourceKind::CreditMemo => s.credited += a.amount,
            SourceKind::WriteOff => s.written_off += a.amount,
        }
    }
    s
}

/// How an invoice was closed: the date its open amount reached zero, and whether any of it
/// was written off.
pub fn closing(apps: &Applications, d: usize, amount: i64) -> Option<(i32, bool)> {
    let mut total = 0;
    let mut written_off = false;
    for a in apps.of_invoice(d) {
        total += a.amount;
        written_off |= a.kind == SourceKind::WriteOff;
        if total >= amount {
            return Some((a.date, written_off));
        }
    }
    None
}

/// Cents × rate, rounded half-even.
pub fn at_rate(cents: i64, rate: i128) -> i64 {
    const { assert!(RATE_SCALE == 10) };
    crate::money::at_rate_scale_10(cents, rate)
}

/// An invoice's movement between two dates in reporting cents at one rate, rounded so that
/// the parts add up exactly to the converted starting amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Movement {
    pub paid: i64,
    pub credited: i64,
    pub written_off: i64,
    pub open: i64,
}

/// Split `open_before` (invoice currency) into what was paid, credited and written off in
/// between (`delta`) and what is still open, each in reporting cents at `rate`.
pub fn movement(open_before: i64, delta: Settled, rate: i128) -> Movement {
    let r = |x: i64| at_rate(x, rate);
    let after_paid = open_before - delta.paid;
    let after_credit = after_paid - delta.credited;
    let after_wo = after_credit - delta.written_off;
    Movement {
        paid: r(open_before) - r(after_paid),
        credited: r(after_paid) - r(after_credit),
        written_off: r(after_credit) - r(after_wo),
        open: r(after_wo),
    }
}

impl std::ops::Sub for Settled {
    type Output = Settled;
    fn sub(self, o: Settled) -> Settled {
        Settled {
            paid: self.paid - o.paid,
            credited: self.credited - o.credited,
            written_off: self.written_off - o.written_off,
        }
    }
}
