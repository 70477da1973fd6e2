//! The activity log: the validated `activities` rows as dense columns, customers by the book's
//! index, in event order (by customer, then instant, then input order). [`LogBuilder`] takes the
//! validated frames as ingest streams them (or the published table read back); [`LogBuilder::finish`]
//! resolves customers against the book and sorts. The audit and the collections KPIs read it.

use foldhash::HashMap;
use polars::prelude::*;

use crate::book::{Book, Texts};
use crate::contracts::activity::{Channel, Code, Direction, Outcome};
use crate::error::{EngineError, Result};
use crate::table_columns::{self, cents, days, texts};

/// Activities in event order.
#[derive(Debug, Clone, Default)]
pub struct ActivityLog {
    /// Book customer index.
    pub customer: Vec<u32>,
    /// Instant, microseconds since 1970-01-01 UTC.
    pub at: Vec<i64>,
    /// The debtor's local wall time, minutes since 1970-01-01 (instant + offset).
    pub local_minute: Vec<i64>,
    pub channel: Vec<Channel>,
    pub direction: Vec<Direction>,
    pub outcome: Vec<Option<Outcome>>,
    pub consumer: Vec<bool>,
    /// Promised amount in reporting cents (0 when none).
    pub promised: Vec<i64>,
    /// Promised date (first instalment of a plan); `i32::MIN` when none.
    pub promised_date: Vec<i32>,
    /// Instalments of a plan (1 for a promise to pay, 0 when none).
    pub instalments: Vec<u16>,
    /// Index into `agents`; `u32::MAX` when not given.
    pub agent: Vec<u32>,
    /// Distinct agents, in the order met.
    pub agents: Texts,
    /// Activity ids.
    pub ids: Texts,
    /// Per customer `c`: its activities are `start[c]..start[c + 1]`.
    pub start: Vec<usize>,
}

impl ActivityLog {
    /// Number of activities.
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }

    /// Activity indices of customer `c`.
    pub fn of_customer(&self, c: usize) -> std::ops::Range<usize> {
        self.start[c]..self.start[c + 1]
    }

    /// The debtor's local calendar day of activity `i` (days since 1970-01-01).
    pub fn local_day(&self, i: usize) -> i32 {
        self.local_minute[i].div_euclid(1440) as i32
    }

    /// The agent of activity `i`, if given.
    pub fn agent_name(&self, i: usize) -> Option<&str> {
        let a = self.agent[i];
        (a != u32::MAX).then(|| self.agents.get(a as usize))
    }
}

/// One row as read, before customers are resolved.
#[derive(Debug, Clone, Copy)]
struct Row {
    at: i64,
    local_minute: i64,
    channel: Channel,
    direction: Direction,
    outcome: Option<Outcome>,
    consumer: bool,
    promised: i64,
    promised_date: i32,
    instalments: u16,
    agent: u32,
}

/// Collects validated activity frames in input order.
#[derive(Debug, Default)]
pub struct LogBuilder {
    rows: Vec<Row>,
    customers: Texts,
    ids: Texts,
    agents: Texts,
    agent_index: HashMap<String, u32>,
}

const TABLE: &str = "activities";

fn code<C: Code>(value: Option<&str>, column: &str) -> Result<C> {
    value.and_then(C::parse).ok_or_else(|| EngineError::Analysis {
        message: format!("column `{column}` of `{TABLE}` holds {value:?}, not one of {}", C::spellings()),
    })
}

impl LogBuilder {
    /// Add validated rows (the `activities` contract).
    pub fn push(&mut self, df: &DataFrame) -> Result<()> {
        let at = table_columns::column(df, TABLE, "occurred_at")?
            .datetime()
            .map_err(EngineError::polars("column `occurred_at` of `activities` as a timestamp"))?
            .physical()
            .clone();
        let offset = table_columns::column(df, TABLE, "local_offset_minutes")?
            .i64()
            .map_err(EngineError::polars("column `local_offset_minutes` of `activities`"))?
            .clone();
        let consumer = table_columns::column(df, TABLE, "consumer")?
            .bool()
            .map_err(EngineError::polars("column `consumer` of `activities`"))?
            .clone();
        let instalments = table_columns::column(df, TABLE, "plan_instalments")?
            .cast(&DataType::UInt64)
            .map_err(EngineError::polars("column `plan_instalments` of `activities`"))?;
        let instalments = instalments.u64().map_err(EngineError::polars("plan_instalments"))?;
        let (ids, customers) = (texts(df, TABLE, "activity_id")?, texts(df, TABLE, "customer_id")?);
        let (channel, direction, outcome) =
            (texts(df, TABLE, "channel")?, texts(df, TABLE, "direction")?, texts(df, TABLE, "outcome")?);
        let agent = texts(df, TABLE, "agent")?;
        let mut promised = cents(df, TABLE, "promised_amount_reporting")?;
        let mut promised_date = days(df, TABLE, "promised_date")?;
        for i in 0..df.height() {
            let at = at.get(i).unwrap_or_default();
            let outcome = outcome.get(i).map(|o| code::<Outcome>(Some(o), "outcome")).transpose()?;
            let agent = match agent.get(i) {
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
            let promised_cents = promised.next().flatten().unwrap_or(0);
            self.rows.push(Row {
                at,
                local_minute: at.div_euclid(60_000_000) + offset.get(i).unwrap_or(0),
                channel: code(channel.get(i), "channel")?,
                direction: code(direction.get(i), "direction")?,
                outcome,
                consumer: consumer.get(i).unwrap_or(false),
                promised: promised_cents,
                promised_date: promised_date.next().flatten().unwrap_or(i32::MIN),
                instalments: match (outcome, instalments.get(i)) {
                    (Some(Outcome::PaymentPlan), n) => n.unwrap_or(1).clamp(1, 1200) as u16,
                    (Some(Outcome::PromiseToPay), _) => 1,
                    _ => 0,
                },
                agent,
            });
            self.customers.push(customers.get(i).unwrap_or_default());
            self.ids.push(ids.get(i).unwrap_or_default());
        }
        Ok(())
    }

    /// Resolve customers against `book` and sort into event order. A customer the book does
    /// not have is an error (validation admits only known customers).
    pub fn finish(self, book: &Book) -> Result<ActivityLog> {
        let ids = &book.customers.ids;
        let index: HashMap<&str, u32> = (0..ids.len()).map(|c| (ids.get(c), c as u32)).collect();
        let mut order: Vec<(u32, i64, u32)> = Vec::with_capacity(self.rows.len());
        for (k, r) in self.rows.iter().enumerate() {
            let id = self.customers.get(k);
            let Some(&c) = index.get(id) else {
                return Err(EngineError::Analysis {
                    message: format!(
                        "activity {} is about customer {id}, whom the book does not have",
                        self.ids.get(k)
                    ),
                });
            };
            order.push((c, r.at, k as u32));
        }
        drop(index);
        order.sort_unstable();
        let n = order.len();
        let mut log = ActivityLog {
            customer: Vec::with_capacity(n),
            at: Vec::with_capacity(n),
            local_minute: Vec::with_capacity(n),
            channel: Vec::with_capacity(n),
            direction: Vec::with_capacity(n),
            outcome: Vec::with_capacity(n),
            consumer: Vec::with_capacity(n),
            promised: Vec::with_capacity(n),
            promised_date: Vec::with_capacity(n),
            instalments: Vec::with_capacity(n),
            agent: Vec::with_capacity(n),
            agents: self.agents,
            ids: Texts::default(),
            start: vec![0; book.customers.len() + 1],
        };
        for &(c, _, k) in &order {
            let r = self.rows[k as usize];
            log.customer.push(c);
            log.at.push(r.at);
            log.local_minute.push(r.local_minute);
            log.channel.push(r.channel);
            log.direction.push(r.direction);
            log.outcome.push(r.outcome);
            log.consumer.push(r.consumer);
            log.promised.push(r.promised);
            log.promised_date.push(r.promised_date);
            log.instalments.push(r.instalments);
            log.agent.push(r.agent);
            log.ids.push(self.ids.get(k as usize));
            log.start[c as usize + 1] += 1;
        }
        for c in 0..book.customers.len() {
            log.start[c + 1] += log.start[c];
        }
        Ok(log)
    }
}
