//! The activity log: the validated `activities` rows as compact [`Activity`] records, customers
//! by the book's index, in event order (by customer, then instant, then input order).
//! [`LogBuilder`] takes the validated frames as ingest streams them (customers looked up in the
//! validated customers table as they pass); [`LogBuilder::finish`] maps them to the book's
//! customers and sorts. The audit and the collections KPIs read it.
//!
//! 10M activities take about 480 MB here: the id text is kept only for the activities the
//! audit may report (consumer debts, or every debt with `include_business`).

use foldhash::HashMap;
use polars::prelude::*;

use crate::book::{Book, Texts};
use crate::contracts::activity::{Channel, Code, Direction, Outcome};
use crate::error::{EngineError, Result};
use crate::table_columns::{self, texts};

/// One activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Instant, microseconds since 1970-01-01 UTC.
    pub at: i64,
    /// Promised amount in reporting cents (0 when none).
    pub promised: i64,
    /// Book customer index (after [`LogBuilder::finish`]; the customers table's row before).
    pub customer: u32,
    /// Index into [`ActivityLog::ids`].
    pub id: u32,
    /// Index into [`ActivityLog::agents`]; `u32::MAX` when not given.
    pub agent: u32,
    /// Promised date (first instalment of a plan); `i32::MIN` when none.
    pub promised_date: i32,
    /// The debtor's UTC offset, minutes.
    pub offset_minutes: i16,
    /// Instalments of a plan (1 for a promise to pay, 0 when none).
    pub instalments: u16,
    pub channel: Channel,
    pub direction: Direction,
    pub outcome: Option<Outcome>,
    pub consumer: bool,
}

impl Activity {
    /// The debtor's local wall time, minutes since 1970-01-01.
    pub fn local_minute(&self) -> i64 {
        self.at.div_euclid(60_000_000) + i64::from(self.offset_minutes)
    }

    /// The debtor's local calendar day (days since 1970-01-01).
    pub fn local_day(&self) -> i32 {
        self.local_minute().div_euclid(1440) as i32
    }

    /// Outbound (the collector acted).
    pub fn outbound(&self) -> bool {
        self.direction == Direction::Outbound
    }
}

/// Activities in event order.
#[derive(Debug, Clone, Default)]
pub struct ActivityLog {
    pub rows: Vec<Activity>,
    /// Distinct agents, in the order met.
    pub agents: Texts,
    /// Activity ids of the audited activities (others are empty).
    pub ids: Texts,
    /// Per customer `c`: its activities are `start[c]..start[c + 1]`.
    pub start: Vec<usize>,
    /// Distinct debtor time zones, as given.
    pub zones: Texts,
    /// Per customer: the index into `zones` of the time zone last given in the input
    /// (`u32::MAX`: none).
    pub zone: Vec<u32>,
}

impl ActivityLog {
    /// Number of activities.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Activity indices of customer `c`.
    pub fn of_customer(&self, c: usize) -> std::ops::Range<usize> {
        self.start[c]..self.start[c + 1]
    }

    /// The id of activity `i` (empty for activities the audit does not read).
    pub fn id(&self, i: usize) -> &str {
        self.ids.get(self.rows[i].id as usize)
    }

    /// Customer `c`'s debtor time zone, as last given in the input.
    pub fn zone_of(&self, c: usize) -> Option<&str> {
        let z = *self.zone.get(c)?;
        (z != u32::MAX).then(|| self.zones.get(z as usize))
    }

    /// The agent of activity `i`, if given.
    pub fn agent_name(&self, i: usize) -> Option<&str> {
        let a = self.rows[i].agent;
        (a != u32::MAX).then(|| self.agents.get(a as usize))
    }
}

/// Collects validated activity frames in input order.
#[derive(Debug, Default)]
pub struct LogBuilder {
    rows: Vec<Activity>,
    /// Customer id → row of the validated customers table.
    customers: HashMap<String, u32>,
    /// The customers table's ids, by row.
    customer_ids: Vec<String>,
    ids: Texts,
    agents: Texts,
    agent_index: HashMap<String, u32>,
    /// Keep every activity's id (the audit reads business debts too).
    all_ids: bool,
    zones: Texts,
    /// By customers-table row: the index into `zones` last given.
    zone: Vec<u32>,
}

const TABLE: &str = "activities";

fn code<C: Code>(value: Option<&str>, column: &str) -> Result<C> {
    value.and_then(C::parse).ok_or_else(|| EngineError::Analysis {
        message: format!("column `{column}` of `{TABLE}` holds {value:?}, not one of {}", C::spellings()),
    })
}

fn bad(column: &str) -> impl FnOnce(PolarsError) -> EngineError + '_ {
    move |e| EngineError::polars(format!("column `{column}` of `{TABLE}`"))(e)
}

impl LogBuilder {
    /// A builder for activities of the customers in `customers` (the validated table);
    /// `all_ids` keeps the id of every activity, not only of consumer debts'.
    pub fn new(customers: &DataFrame, all_ids: bool) -> Result<LogBuilder> {
        let ids = texts(customers, "customers", "customer_id")?;
        let customer_ids: Vec<String> = ids.iter().map(|v| v.unwrap_or_default().to_string()).collect();
        let index = customer_ids.iter().enumerate().map(|(k, id)| (id.clone(), k as u32)).collect();
        let zone = vec![u32::MAX; customer_ids.len()];
        let mut b = LogBuilder { customers: index, customer_ids, all_ids, zone, ..LogBuilder::default() };
        b.ids.push("");
        Ok(b)
    }

    /// Add validated rows (the `activities` contract).
    pub fn push(&mut self, df: &DataFrame) -> Result<()> {
        let at =
            table_columns::column(df, TABLE, "occurred_at")?.datetime().map_err(bad("occurred_at"))?.physical().clone();
        let offset = table_columns::column(df, TABLE, "local_offset_minutes")?
            .i64()
            .map_err(bad("local_offset_minutes"))?
            .clone();
        let consumer = table_columns::column(df, TABLE, "consumer")?.bool().map_err(bad("consumer"))?.clone();
        let instalments =
            table_columns::column(df, TABLE, "plan_instalments")?.u64().map_err(bad("plan_instalments"))?.clone();
        let promised = table_columns::column(df, TABLE, "promised_amount_reporting")?
            .decimal()
            .map_err(bad("promised_amount_reporting"))?
            .physical()
            .clone();
        let promised_date =
            table_columns::column(df, TABLE, "promised_date")?.date().map_err(bad("promised_date"))?.physical().clone();
        let (ids, customers) = (texts(df, TABLE, "activity_id")?, texts(df, TABLE, "customer_id")?);
        let (channel, direction, outcome) =
            (texts(df, TABLE, "channel")?, texts(df, TABLE, "direction")?, texts(df, TABLE, "outcome")?);
        let agent = texts(df, TABLE, "agent")?;
        let zones = texts(df, TABLE, "debtor_time_zone")?;
        let mut zone_at: Option<(&str, u32)> = None;
        let mut customer_at: Option<(&str, Option<u32>)> = None;
        for (customer, zone) in customers.iter().zip(zones.iter()) {
            let (Some(customer), Some(zone)) = (customer, zone) else { continue };
            let k = match zone_at {
                Some((z, k)) if z == zone => k,
                _ => {
                    let k = (0..self.zones.len()).find(|&k| self.zones.get(k) == zone).unwrap_or_else(|| {
                        self.zones.push(zone);
                        self.zones.len() - 1
                    }) as u32;
                    zone_at = Some((zone, k));
                    k
                }
            };
            // A customer's activities usually come together: look up only when it changes.
            let c = match customer_at {
                Some((p, c)) if p == customer => c,
                _ => {
                    let c = self.customers.get(customer).copied();
                    customer_at = Some((customer, c));
                    c
                }
            };
            if let Some(c) = c {
                self.zone[c as usize] = k;
            }
        }
        self.rows.reserve(df.height());
        let columns = at
            .iter()
            .zip(offset.iter())
            .zip(consumer.iter())
            .zip(instalments.iter())
            .zip(promised.iter())
            .zip(promised_date.iter())
            .zip(ids.iter())
            .zip(customers.iter())
            .zip(channel.iter())
            .zip(direction.iter())
            .zip(outcome.iter())
            .zip(agent.iter());
        // Codes come in few spellings: parse each once.
        let mut channels: Vec<(String, Channel)> = Vec::new();
        let mut outcomes: Vec<(String, Option<Outcome>)> = Vec::new();
        let mut previous: Option<(&str, u32)> = None;
        for (
            (
                (
                    (
                        (((((((at, offset), consumer), instalments), promised), promised_date), id), customer),
                        channel_text,
                    ),
                    direction_text,
                ),
                outcome_text,
            ),
            agent,
        ) in columns
        {
            let customer_id = customer.unwrap_or_default();
            // A customer's activities usually come together: look up only when it changes.
            let customer = match previous {
                Some((p, k)) if p == customer_id => k,
                _ => {
                    let Some(&k) = self.customers.get(customer_id) else {
                        return Err(EngineError::Analysis {
                            message: format!(
                                "activity {} is about customer {customer_id}, who is not in the validated customers",
                                id.unwrap_or_default()
                            ),
                        });
                    };
                    previous = Some((customer_id, k));
                    k
                }
            };
            let channel_text = channel_text.unwrap_or_default();
            let channel = match channels.iter().find(|(t, _)| t == channel_text) {
                Some((_, c)) => *c,
                None => {
                    let c = code::<Channel>(Some(channel_text), "channel")?;
                    channels.push((channel_text.to_string(), c));
                    c
                }
            };
            let outcome_text = outcome_text.unwrap_or_default();
            let outcome = match outcomes.iter().find(|(t, _)| t == outcome_text) {
                Some((_, o)) => *o,
                None => {
                    let o = if outcome_text.is_empty() {
                        None
                    } else {
                        Some(code::<Outcome>(Some(outcome_text), "outcome")?)
                    };
                    outcomes.push((outcome_text.to_string(), o));
                    o
                }
            };
            let direction = if direction_text == Some("inbound") { Direction::Inbound } else { Direction::Outbound };
            let agent = match agent {
                None => u32::MAX,
                Some(a) => match self.agent_index.get(a) {
                    Some(&k) => k,
                    None => {
                        let k = self.agents.len() as u32;
                        self.agents.push(a);
                        self.agent_index.insert(a.to_string(), k);
                        k
                    }
                },
            };
            let consumer = consumer.unwrap_or(false);
            let id = if consumer || self.all_ids {
                self.ids.push(id.unwrap_or_default());
                (self.ids.len() - 1) as u32
            } else {
                0
            };
            self.rows.push(Activity {
                at: at.unwrap_or_default(),
                promised: promised.map_or(0, |p| p as i64),
                customer,
                id,
                agent,
                promised_date: promised_date.unwrap_or(i32::MIN),
                offset_minutes: offset.unwrap_or(0).clamp(-1440, 1440) as i16,
                instalments: match outcome {
                    Some(Outcome::PaymentPlan) => instalments.unwrap_or(1).clamp(1, 1200) as u16,
                    Some(Outcome::PromiseToPay) => 1,
                    _ => 0,
                },
                channel,
                direction,
                outcome,
                consumer,
            });
        }
        Ok(())
    }

    /// Map customers to `book`'s and sort into event order (a stable sort: activities at the
    /// same instant keep their input order).
    pub fn finish(self, book: &Book) -> Result<ActivityLog> {
        use rayon::prelude::*;
        let ids = &book.customers.ids;
        let index: HashMap<&str, u32> = (0..ids.len()).map(|c| (ids.get(c), c as u32)).collect();
        let to_book: Vec<u32> =
            self.customer_ids.iter().map(|id| index.get(id.as_str()).copied().unwrap_or(u32::MAX)).collect();
        drop(index);
        let mut rows = self.rows;
        for r in &mut rows {
            let c = to_book[r.customer as usize];
            if c == u32::MAX {
                return Err(EngineError::Analysis {
                    message: format!(
                        "customer {} has activities but is not in the book",
                        self.customer_ids[r.customer as usize]
                    ),
                });
            }
            r.customer = c;
        }
        rows.par_sort_by_key(|r| (r.customer, r.at));
        let mut start = vec![0usize; book.customers.len() + 1];
        for r in &rows {
            start[r.customer as usize + 1] += 1;
        }
        for c in 0..book.customers.len() {
            start[c + 1] += start[c];
        }
        let mut zone = vec![u32::MAX; book.customers.len()];
        for (row, &c) in to_book.iter().enumerate() {
            if c != u32::MAX {
                zone[c as usize] = self.zone[row];
            }
        }
        Ok(ActivityLog { rows, agents: self.agents, ids: self.ids, start, zones: self.zones, zone })
    }
}
