//! Links by clearing document across every file of a source: which receivables share a
//! clearing document, so that a payment references them and a credit memo reduces the first.
//! Every row is a member of its clearing document's group, found as the rows are routed; a
//! group's receivables are complete, and so its links known, once every row has been read.

use super::params::SourceSpec;
use super::route::Target;
use crate::contracts::{DocType, InputKind};

/// Links by clearing document: a payment references the invoices and debit memos that share
/// its clearing document (after any references of its own), and a credit memo or write-off
/// without `applies_to` reduces the first of them. Built a range of rows at a time, in file
/// order ([`LinkBuilder`]); each routed row keeps its group, and its links are written when
/// its frame is handed to validation, once every file has been read.
#[derive(Debug)]
pub(super) struct Links {
    separator: String,
    /// The ids of group `g`'s receivables are `members[offsets[g]..offsets[g + 1]]` (positions
    /// in `ids`), in file order.
    offsets: Vec<u32>,
    members: Vec<u32>,
    ids: Ids,
    /// The column of a ledger row's and of a payment's own id (see `frames::own_id_column`).
    own: [String; 2],
}

/// How a routed row takes part in the clearing groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A receivable with a clearing document and an id: a member others link to.
    Receivable,
    /// A payment, or a credit memo or write-off without `applies_to`: takes its clearing
    /// document's links (a payment references the receivables, a memo reduces the first).
    Member,
}

/// The role of a row routed to `target`, with or without a clearing document and an id;
/// `applies_to` tells whether it names its own invoice (asked only of memos).
pub(super) fn role(target: Target, clearing: bool, id: bool, applies_to: impl FnOnce() -> bool) -> Option<Role> {
    match target {
        Target::Ledger(t) if t.is_receivable() => (clearing && id).then_some(Role::Receivable),
        Target::Ledger(DocType::CreditMemo | DocType::WriteOff) => (!applies_to()).then_some(Role::Member),
        Target::Payment => Some(Role::Member),
        _ => None,
    }
}

/// A row in no group: its clearing document clears no receivable (or it has none).
pub(super) const NO_GROUP: u32 = u32::MAX;

/// Receivables' ids, side by side in one buffer.
#[derive(Debug, Default)]
struct Ids {
    text: String,
    ends: Vec<u64>,
}

impl Ids {
    fn push(&mut self, id: &str) -> u32 {
        self.text.push_str(id);
        self.ends.push(self.text.len() as u64);
        (self.ends.len() - 1) as u32
    }

    fn get(&self, k: u32) -> &str {
        let k = k as usize;
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.text[start..self.ends[k] as usize]
    }
}

/// Collects the clearing groups while the rows are routed.
#[derive(Debug)]
pub(super) struct LinkBuilder {
    groups: Groups,
    /// (group, id) of every receivable with a clearing document, in file order.
    found: Vec<(u32, u32)>,
    ids: Ids,
}

impl LinkBuilder {
    pub(super) fn new() -> Self {
        LinkBuilder { groups: Groups::default(), found: Vec::new(), ids: Ids::default() }
    }

    /// The group of a receivable with clearing document `clearing` and id `id`.
    pub(super) fn receivable(&mut self, clearing: &str, id: &str) -> u32 {
        self.receivable_keyed(Clearing::of(clearing), id)
    }

    /// [`LinkBuilder::receivable`] of a clearing document already keyed.
    pub(super) fn receivable_keyed(&mut self, clearing: Clearing<'_>, id: &str) -> u32 {
        let g = self.groups.insert(clearing);
        let k = self.ids.push(id);
        self.found.push((g, k));
        g
    }

    /// The group of another row with clearing document `clearing` (its receivables may come
    /// later in the file).
    pub(super) fn other(&mut self, clearing: &str) -> u32 {
        self.groups.insert(Clearing::of(clearing))
    }

    /// [`LinkBuilder::other`] of a clearing document already keyed.
    pub(super) fn other_keyed(&mut self, clearing: Clearing<'_>) -> u32 {
        self.groups.insert(clearing)
    }

    /// Every row has been seen: the groups' members side by side.
    pub(super) fn finish(self, spec: &SourceSpec) -> Links {
        // A counting sort by group keeps file order within each group.
        let mut offsets = vec![0u32; self.groups.len() + 1];
        for &(g, _) in &self.found {
            offsets[g as usize + 1] += 1;
        }
        for g in 1..offsets.len() {
            offsets[g] += offsets[g - 1];
        }
        let mut members = vec![0u32; self.found.len()];
        let mut at = offsets.clone();
        for (g, k) in self.found {
            members[at[g as usize] as usize] = k;
            at[g as usize] += 1;
        }
        let separator = match spec.refs_separator.trim() {
            "" => spec.refs_separator.clone(),
            t => t.to_string(),
        };
        let own = [InputKind::Ledger, InputKind::Payments].map(|kind| super::frames::own_id_column(spec, kind));
        Links { separator, offsets, members, ids: self.ids, own }
    }
}

impl Links {
    /// The column of a `kind` row's own id.
    pub(super) fn own_column(&self, kind: InputKind) -> &str {
        &self.own[usize::from(kind != InputKind::Ledger)]
    }

    /// The ids of the receivables of group `g`, in file order.
    fn group(&self, g: u32) -> impl Iterator<Item = &str> {
        let range = match g {
            NO_GROUP => 0..0,
            g => self.offsets[g as usize] as usize..self.offsets[g as usize + 1] as usize,
        };
        self.members[range].iter().map(|&k| self.ids.get(k))
    }

    /// A payment's references (group `g`, own id `own`): its own (`given`), then those of its
    /// clearing document's group, once each, without its own id. Written to `out`; false
    /// when there are none.
    pub(super) fn refs<'s>(
        &'s self,
        g: u32,
        own: Option<&str>,
        given: Option<&'s str>,
        seen: &mut Vec<&'s str>,
        out: &mut String,
    ) -> bool {
        seen.clear();
        let given = given.into_iter().flat_map(|r| r.split(self.separator.as_str())).map(str::trim);
        for id in given.chain(self.group(g)) {
            if !id.is_empty() && Some(id) != own && !seen.contains(&id) {
                seen.push(id);
            }
        }
        out.clear();
        for (k, id) in seen.iter().enumerate() {
            if k > 0 {
                out.push_str(&self.separator);
            }
            out.push_str(id);
        }
        !seen.is_empty()
    }

    /// What a credit memo or write-off (group `g`, own id `own`) without `applies_to`
    /// reduces: the first receivable of its clearing document's group other than itself.
    pub(super) fn applies_to(&self, g: u32, own: Option<&str>) -> Option<&str> {
        self.group(g).find(|m| Some(*m) != own)
    }
}

/// Clearing documents → their group. Documents written as numbers (most ERPs number them)
/// are keyed by their value and length, which is faster to hash and compare than their
/// text; any other text is keyed as written.
#[derive(Debug, Default)]
struct Groups {
    numbers: foldhash::HashMap<u64, u32>,
    texts: foldhash::HashMap<String, u32>,
}

impl Groups {
    fn len(&self) -> usize {
        self.numbers.len() + self.texts.len()
    }

    /// The group of `c`, a new one when `c` is new.
    fn insert(&mut self, c: Clearing<'_>) -> u32 {
        let next = self.len() as u32;
        match c {
            Clearing::Number(k) => *self.numbers.entry(k).or_insert(next),
            Clearing::Text(c) => match self.texts.get(c) {
                Some(&g) => g,
                None => *self.texts.entry(c.to_string()).or_insert(next),
            },
        }
    }
}

/// A clearing document as groups are keyed: a text of digits by its number ([`number_key`]),
/// any other by its text. Keying is done where the rows are routed, in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Clearing<'a> {
    Number(u64),
    Text(&'a str),
}

impl<'a> Clearing<'a> {
    pub(super) fn of(c: &'a str) -> Clearing<'a> {
        number_key(c).map_or(Clearing::Text(c), Clearing::Number)
    }
}

/// A key for a text of 1 to 15 ASCII digits: its value and its length (so `0042` and `42`
/// stay apart), distinct for distinct texts.
fn number_key(c: &str) -> Option<u64> {
    let b = c.as_bytes();
    if b.is_empty() || b.len() > 15 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = b.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    Some((b.len() as u64) << 50 | value)
}

#[cfg(test)]
mod tests {
    use super::number_key;

    #[test]
    fn number_keys_tell_every_digit_text_apart() {
        assert_eq!(number_key("14000000000034"), number_key("14000000000034"));
        assert_ne!(number_key("0042"), number_key("42"));
        assert_ne!(number_key("999999999999999"), number_key("0"));
        assert_eq!(number_key("1234567890123456"), None, "16 digits are keyed as text");
        assert_eq!(number_key("12A"), None);
        assert_eq!(number_key(""), None);
    }
}
