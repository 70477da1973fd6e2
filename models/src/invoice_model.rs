//! The invoice-level late-payment model of `ardent run`: trained on the invoice panel (every
//! open invoice at every month end, with its customer's features) and applied to the invoices
//! open at the latest month end (`invoice_predictions`).

use ardent_engine::analytics::features::{self, FEATURES};
use ardent_engine::analytics::frame::{date, float_opt, frame, int, money, text};
use ardent_engine::analytics::{Context, invoices};
use ardent_engine::book::Book;
use polars::prelude::DataFrame;
use rayon::prelude::*;

use crate::error::Result;
use crate::matrix::Sample;
use crate::params::Training;
use crate::run::{Held, column, train_drawn, visit};
use crate::split::{DatedPlan, Holdout, Outline, in_subsample};
use crate::tables::INVOICE_PREDICTIONS_TABLE;
use crate::train::Trained;

/// Train the invoice-level model (trees, portfolio-wide) on the invoice panel and predict
/// every invoice open at the latest month end. The panel has a row per open invoice and
/// month end (tens of millions on large books), so its feature matrix is built only for the
/// rows the model reads: the training subsample, the out-of-time rows and the latest month
/// end; the split is decided on the whole panel's counts first, exactly as training would.
/// Three steps, each on its own so that a run split by customer can run the first and the
/// last on each shard and the middle once: [`draw`], [`train_drawn`], [`predict_open`].
pub(crate) fn invoice_model(ctx: &Context<'_>, held: &Held, t: &Training) -> Result<(Trained, DataFrame)> {
    // Decide the split on the whole panel (counted, not held).
    let outline = invoices::outline(ctx, &held.panel, &t.invoice_labeling);
    let plan = InvoicePlan::new(&outline, t)?;
    let Drawn { sample, open } = draw(ctx, held, &plan, t)?;
    let trained = train_invoice(&sample, &plan, t)?;
    drop(sample);
    let df = predict_open(ctx, held, &open, &trained.champion().model, plan.latest, t)?;
    Ok((trained, df))
}

/// How the invoice panel is split, decided on its outline (labelled rows per month end, the
/// longest terms, the latest month end).
#[derive(Debug)]
pub(crate) struct InvoicePlan {
    pub(crate) dated: DatedPlan,
    pub(crate) holdout: Holdout,
    /// The latest month end: its open invoices are predicted.
    pub(crate) latest: i32,
}

impl InvoicePlan {
    pub(crate) fn new(outline: &invoices::Outline, t: &Training) -> Result<InvoicePlan> {
        // A row's label is known by due + days_late, at most terms + days_late after t0.
        let gap_days = outline.max_terms.max(0) + t.invoice_labeling.days_late;
        let dated =
            DatedPlan::new(&Outline { labelled: outline.labelled.clone() }, t.oot_months, gap_days, t.max_train_rows)?;
        Ok(InvoicePlan {
            dated,
            holdout: Holdout::LastDates { n: t.oot_months, gap_days },
            latest: outline.latest.unwrap_or(0),
        })
    }
}

/// Train the invoice model on the rows drawn by `plan` (from one panel, or the shards' parts
/// merged).
pub(crate) fn train_invoice(sample: &Sample, plan: &InvoicePlan, t: &Training) -> Result<Trained> {
    let mut trained = train_drawn(sample, plan.holdout, &invoice_training(t), plan.dated.available)?;
    for c in &mut trained.candidates {
        c.model.id = format!("invoice_{}", c.model.id);
    }
    Ok(trained)
}

/// The invoice panel's rows open at the month end `latest`, to be predicted.
pub(crate) fn open_at(ctx: &Context<'_>, held: &Held, latest: i32, t: &Training) -> invoices::InvoicePanel {
    invoices::panel(ctx, &held.panel, &t.invoice_labeling, |r| r.as_of == latest)
}

/// The invoice model's learners: trees over the whole portfolio.
fn invoice_training(t: &Training) -> Training {
    let mut it = t.clone();
    it.learners = vec![crate::model::Kind::Gbdt];
    it.per_segment = false;
    it
}

/// The invoice panel's rows the plan keeps, as a training sample, and the invoices open at
/// the latest month end (their matrix is built only once training is done and its matrix is
/// dropped).
pub(crate) struct Drawn {
    pub(crate) sample: Sample,
    pub(crate) open: invoices::InvoicePanel,
}

/// Draw the invoice panel's training and out-of-time rows by `plan`, and its open invoices.
pub(crate) fn draw(ctx: &Context<'_>, held: &Held, plan: &InvoicePlan, t: &Training) -> Result<Drawn> {
    let Held { panel, values, rows: customers, .. } = held;
    let l = &t.invoice_labeling;
    let (first_oot, gap_days, latest) = (plan.dated.first_oot, plan.dated.gap_days, plan.latest);
    let group_name =
        |r: &invoices::InvoiceRow| customers.group_names[customers.group[r.customer_row as usize] as usize].as_str();
    let fits = |r: &invoices::InvoiceRow| {
        let train = r.as_of + gap_days <= first_oot
            && plan.dated.keep.is_none_or(|keep| in_subsample(t.seed, group_name(r), r.as_of, keep));
        r.label.is_some() && (r.as_of >= first_oot || train)
    };
    let inv = invoices::panel(ctx, panel, l, |r| r.as_of == latest || fits(r));
    let (fit, open): (Vec<_>, Vec<_>) = (
        inv.rows.iter().copied().filter(|r| fits(r)).collect(),
        inv.rows.iter().copied().filter(|r| r.as_of == latest).collect(),
    );
    drop(inv);
    let (fit, open) = (invoices::InvoicePanel { rows: fit }, invoices::InvoicePanel { rows: open });
    let names = invoices::feature_names();
    let customer_of = |i: usize| fit.rows[i].customer_row as usize;
    let sample = Sample {
        features: names.clone(),
        x: invoice_matrix(ctx.book, &fit, values)?,
        label: fit.rows.iter().map(|r| r.label).collect(),
        time: fit.rows.iter().map(|r| r.as_of).collect(),
        group: (0..fit.len()).map(|i| customers.group[customer_of(i)]).collect(),
        group_names: customers.group_names.clone(),
        segment: (0..fit.len()).map(|i| customers.segment[customer_of(i)]).collect(),
        segments: customers.segments.clone(),
        positive: format!("the invoice is paid more than {} days after its due date, or not at all", l.days_late),
        levels: vec![None; names.len()],
    };
    Ok(Drawn { sample, open })
}

/// `invoice_predictions`: the late-payment probability and expected payment date of every
/// invoice in `open` (those open at the latest month end `latest`), by `model`.
pub(crate) fn predict_open(
    ctx: &Context<'_>,
    held: &Held,
    open: &invoices::InvoicePanel,
    model: &crate::model::Model,
    latest: i32,
    t: &Training,
) -> Result<DataFrame> {
    let Held { values, rows: customers, .. } = held;
    let l = &t.invoice_labeling;
    let book = ctx.book;
    let docs = &book.docs;
    let own = invoices::INVOICE_FEATURES.len();
    let customer_of = |i: usize| open.rows[i].customer_row as usize;
    let x = invoice_matrix(book, open, values)?;
    let late_col = own + column("weighted_days_late_365d");
    let segment = |i: usize| customers.segments[customers.segment[customer_of(i)] as usize].as_str();
    let p: Vec<f64> = match x.as_slice() {
        // Rows of a standard-layout matrix, scored at once (see `Model::pds`).
        Some(values) if x.ncols() > 0 => {
            let rows: Vec<&[f64]> = values.chunks(x.ncols()).collect();
            let segments: Vec<&str> = (0..open.len()).map(segment).collect();
            model.pds(&rows, &segments)
        }
        _ => (0..open.len()).into_par_iter().map(|i| model.pd(x.row(i), segment(i))).collect(),
    };
    let due = |i: usize| {
        let d = open.rows[i].doc as usize;
        docs.due[d].unwrap_or(docs.date[d])
    };
    let expected: Vec<i32> = p
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let usual = x[[i, late_col]];
            let usual = if usual.is_nan() { 0.0 } else { usual };
            let days = usual.max(p * f64::from(l.days_late)).round() as i32;
            (due(i) + days).max(latest + 1)
        })
        .collect();
    let ids = &ctx.book.customers.ids;
    let rows = 0..open.len();
    let df = frame(
        &INVOICE_PREDICTIONS_TABLE,
        vec![
            date("as_of", rows.clone().map(|_| latest)),
            text("doc_id", rows.clone().map(|i| docs.id.get(open.rows[i].doc as usize))),
            text("customer_id", rows.clone().map(|i| ids.get(docs.customer[open.rows[i].doc as usize] as usize))),
            text("segment", rows.clone().map(segment)),
            date("due_date", rows.clone().map(due)),
            money("open_amount", rows.clone().map(|i| open.rows[i].open_cents)),
            int("days_past_due", rows.clone().map(|i| i64::from(latest - due(i)))),
            float_opt("p_late", p.iter().map(|&v| Some(v))),
            date("expected_pay_date", expected.iter().copied()),
            text("model_id", rows.map(|_| model.id.as_str())),
        ],
    )?;
    Ok(df)
}

/// The invoice model's matrix for the rows of `inv`: the invoice's own features, then its
/// customer's (read back from the spilled panel, in panel order).
fn invoice_matrix(
    book: &Book,
    inv: &invoices::InvoicePanel,
    values: &features::SpilledValues,
) -> Result<ndarray::Array2<f64>> {
    let own = invoices::INVOICE_FEATURES.len();
    let mut x = ndarray::Array2::<f64>::zeros((inv.len(), own + FEATURES.len()));
    for (i, mut row) in x.outer_iter_mut().enumerate() {
        for (cell, v) in row.iter_mut().zip(inv.invoice_features(book, i)) {
            *cell = v;
        }
    }
    let mut by_customer_row: Vec<u32> = (0..inv.len() as u32).collect();
    by_customer_row.sort_unstable_by_key(|&i| inv.rows[i as usize].customer_row);
    visit(values, by_customer_row.iter().map(|&i| inv.rows[i as usize].customer_row as usize), |k, v| {
        let mut row = x.row_mut(by_customer_row[k] as usize);
        for (cell, &v) in row.iter_mut().skip(own).zip(v) {
            *cell = v;
        }
    })?;
    Ok(x)
}
