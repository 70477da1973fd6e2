//! The models stage as the steps of a run split by customer (`ardent shard …`), each giving
//! exactly what one machine's [`crate::run::run`] gives for the same rows:
//!
//! 1. on every shard, [`panel`] then [`PanelOutline::of`]: the labelled rows per month end
//!    of the customer and invoice panels (counts, which add up);
//! 2. anywhere, [`Plans::new`] on the added outlines: the first out-of-time month end and the
//!    share of training rows kept, for both models (what one machine decides on its panel);
//! 3. on every shard, [`draw`]: the rows the plans keep, with their features;
//! 4. once, [`train`] on the shards' drawn rows merged into one machine's order
//!    ([`Sample::merge_parts`]): the model tables, artifacts and champions;
//! 5. on every shard, [`score`] with the champions: its `features`, `customer_scores` and
//!    `invoice_predictions` rows and its `segment_scores` sums ([`crate::segments`]), which the
//!    merge puts in order, ranks and adds ([`segment_scores`]).
//!
//! Behavioural clusters (`models.clusters`) are not in this yet (see `docs/scale-out.md`).

use ardent_engine::analytics::{Context, invoices};
use ardent_engine::sink::TableSink;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::invoice_model::{self, InvoicePlan};
use crate::matrix::Sample;
use crate::metrics::PsiReference;
use crate::model::Model;
use crate::params::Training;
use crate::run::{
    Held, Models, Progress, Published, customer_holdout, customer_plan, drawn_rows, hold, score_months, train_drawn,
};
use crate::segments::{self, SegmentSum};
use crate::split::{DatedPlan, Outline, split_planned};
use crate::tables::{empty_invoice_predictions, segment_scores_table};

/// A shard's customer panel with its labels (its values in a temporary file).
pub fn panel(ctx: &Context<'_>, t: &Training) -> Result<Held> {
    if t.clusters.is_some() {
        return Err(ModelError::Data(
            "behavioural clusters (`models.clusters`) are not built for sharded runs yet; leave them out or use `ardent run`"
                .into(),
        ));
    }
    hold(ctx, t)
}

/// The labelled rows per month end of a part's customer and invoice panels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PanelOutline {
    pub customer: Outline,
    pub invoice: invoices::Outline,
}

impl PanelOutline {
    /// The outline of `held` (the panel of `ctx`'s book).
    pub fn of(ctx: &Context<'_>, held: &Held, t: &Training) -> PanelOutline {
        PanelOutline {
            customer: Outline::of(&held.rows),
            invoice: invoices::outline(ctx, &held.panel, &t.invoice_labeling),
        }
    }

    /// Add another part's outline.
    pub fn merge(&mut self, other: &PanelOutline) {
        self.customer.merge(&other.customer);
        self.invoice.merge(&other.invoice);
    }
}

/// The splits of the whole panels, or why a model is skipped (too little history).
#[derive(Debug)]
pub struct Plans {
    customer: std::result::Result<DatedPlan, String>,
    invoice: std::result::Result<InvoicePlan, String>,
}

/// Too little history or no signal skips a model; any other error stops the run.
fn skipped<T>(r: Result<T>) -> Result<std::result::Result<T, String>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why)) => Ok(Err(why)),
        Err(e) => Err(e),
    }
}

impl Plans {
    /// The plans of the whole panels' outline (the shards' added).
    pub fn new(outline: &PanelOutline, t: &Training) -> Result<Plans> {
        Ok(Plans {
            customer: skipped(customer_plan(&outline.customer, t))?,
            invoice: skipped(InvoicePlan::new(&outline.invoice, t))?,
        })
    }

    /// The month end whose open invoices are predicted (none when the invoice model is
    /// skipped).
    pub fn latest(&self) -> Option<i32> {
        self.invoice.as_ref().ok().map(|p| p.latest)
    }
}

/// A part's rows kept for training and out-of-time evaluation.
#[derive(Debug)]
pub struct Drawn {
    /// `None` when the customer model is skipped.
    pub customer: Option<Sample>,
    /// `None` when the invoice model is skipped.
    pub invoice: Option<Sample>,
}

/// The rows of `held` (a shard's panel) the plans keep, with their feature values.
pub fn draw(ctx: &Context<'_>, held: &Held, plans: &Plans, t: &Training) -> Result<Drawn> {
    let customer = match &plans.customer {
        Ok(plan) => Some(drawn_rows(&held.values, &held.rows, &split_planned(&held.rows, plan, t.seed))?.0),
        Err(_) => None,
    };
    let invoice = match &plans.invoice {
        Ok(plan) => Some(invoice_model::draw(ctx, held, plan, t)?.sample),
        Err(_) => None,
    };
    Ok(Drawn { customer, invoice })
}

/// What [`train`] gives: what it publishes, the champions the shards score with, and the
/// reference population of the scores' PSI.
#[derive(Debug)]
pub struct TrainedModels {
    pub published: Published,
    pub champion: Option<Model>,
    pub invoice_champion: Option<Model>,
    pub reference: Option<PsiReference>,
    pub customer_skipped: Option<String>,
    pub invoice_skipped: Option<String>,
}

/// Train on the parts' drawn rows (every shard's, in any order), as one machine trains on its
/// panel's. Fails with [`ModelError::NotEnoughHistory`] when both models are skipped.
pub fn train(customer: &[Sample], invoice: &[Sample], plans: &Plans, t: &Training) -> Result<TrainedModels> {
    let customer_model = || -> Result<std::result::Result<crate::train::Trained, String>> {
        match &plans.customer {
            Ok(plan) => {
                let sample = Sample::merge_parts(customer)?;
                skipped(train_drawn(&sample, customer_holdout(t), t, plan.available))
            }
            Err(why) => Ok(Err(why.clone())),
        }
    };
    let invoice_model = || -> Result<std::result::Result<crate::train::Trained, String>> {
        match &plans.invoice {
            Ok(plan) => {
                let sample = Sample::merge_parts(invoice)?;
                skipped(invoice_model::train_invoice(&sample, plan, t))
            }
            Err(why) => Ok(Err(why.clone())),
        }
    };
    let (c, i) = rayon::join(customer_model, invoice_model);
    let (c, i) = (c?, i?);
    let models = Models {
        customer_skipped: c.as_ref().err().cloned(),
        invoice_skipped: i.as_ref().err().cloned(),
        customer: c.ok(),
        invoice: i.ok(),
    };
    models.check()?;
    let published = models.publish(t)?;
    Ok(TrainedModels {
        published,
        champion: models.customer.as_ref().map(|tr| tr.champion().model.clone()),
        invoice_champion: models.invoice.as_ref().map(|tr| tr.champion().model.clone()),
        reference: models.reference(),
        customer_skipped: models.customer_skipped,
        invoice_skipped: models.invoice_skipped,
    })
}

/// What a shard's scoring gives besides the rows it wrote.
#[derive(Debug)]
pub struct Scored {
    pub segment_sums: Vec<SegmentSum>,
    /// The expected credit loss's PD method sums (none without a customer model).
    pub ecl_pd: Option<ardent_engine::analytics::ecl::PdSums>,
    /// The shard's `invoice_predictions` (empty when the invoice model was skipped).
    pub invoice_predictions: DataFrame,
    /// The score alerts of the shard's customers.
    pub alerts: Vec<ardent_engine::analytics::alerts::Alert>,
}

/// What scores a shard: the trained champions and the scores' PSI reference.
#[derive(Debug, Clone, Copy)]
pub struct Champions<'a> {
    /// The customer model's champion (none when it was skipped).
    pub customer: Option<&'a Model>,
    /// The reference population of the customer scores' PSI.
    pub reference: Option<&'a PsiReference>,
    /// The invoice model's champion and the month end whose open invoices it predicts.
    pub invoice: Option<(&'a Model, i32)>,
}

/// Score a shard's panel: its `features` and `customer_scores` rows go to `out` (their
/// `priority_rank` ranks the shard's customers only: the merge ranks again), its
/// `invoice_predictions` and `segment_scores` sums are returned.
pub fn score(
    ctx: &Context<'_>,
    held: &Held,
    champions: Champions<'_>,
    t: &Training,
    out: &mut dyn TableSink,
    progress: Progress<'_>,
) -> Result<Scored> {
    let Champions { customer, reference, invoice } = champions;
    let crate::run::MonthsScored { segment_sums, ecl_pd, alerts, .. } =
        score_months(ctx, held, customer, reference, t, out, progress)?;
    let invoice_predictions = match invoice {
        Some((model, latest)) => {
            let open = invoice_model::open_at(ctx, held, latest, t);
            invoice_model::predict_open(ctx, held, &open, model, latest, t)?
        }
        None => empty_invoice_predictions()?,
    };
    Ok(Scored { segment_sums, ecl_pd, invoice_predictions, alerts })
}

/// `segment_scores` from the shards' sums.
pub fn segment_scores(
    sums: impl IntoIterator<Item = SegmentSum>,
    reference: Option<&PsiReference>,
) -> Result<DataFrame> {
    segment_scores_table(&segments::rows(&segments::add(sums), reference))
}
