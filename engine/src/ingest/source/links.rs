//! Links by clearing document across every file of a source: which receivables share a
//! clearing document, so that a payment references them and a credit memo reduces the first.

use super::params::SourceSpec;
use super::route::{Parsed, Target};

/// Links by clearing document: a payment references the invoices and debit memos that share
/// its clearing document (after any references of its own), and a credit memo or write-off
/// without `applies_to` reduces the first of them. Built once over every file; each routed
/// frame asks it for its rows' links only, by the row's clearing document.
#[derive(Debug)]
pub(super) struct Links<'a> {
    separator: String,
    /// The group of each row of each file ([`NO_GROUP`] for a row without a clearing
    /// document, or whose clearing document clears no receivable).
    row_group: Vec<Vec<u32>>,
    /// The ids of group `g`'s receivables are `members[offsets[g]..offsets[g + 1]]`, in file
    /// order: one allocation for every group, each group's ids side by side.
    offsets: Vec<u32>,
    members: Vec<&'a str>,
}

/// A row in no group.
const NO_GROUP: u32 = u32::MAX;

impl<'a> Links<'a> {
    pub(super) fn new(spec: &SourceSpec, parsed: &'a [Parsed]) -> Option<Links<'a>> {
        spec.clearing_column.as_ref()?;
        let rows: usize = parsed.iter().map(|p| p.target.len()).sum();
        let mut groups = Groups::with_capacity(rows / 2);
        // (group, id) of every receivable with a clearing document, in file order.
        let mut found: Vec<(u32, &'a str)> = Vec::new();
        // Rows whose clearing document had no receivable yet when they were met.
        let mut later: Vec<(usize, usize, &'a str)> = Vec::new();
        let mut row_group: Vec<Vec<u32>> = Vec::with_capacity(parsed.len());
        // One pass in file order: a payment usually follows the items it clears closely, so
        // its look-up finds their group while it is still in cache.
        for (f, p) in parsed.iter().enumerate() {
            let mut groups_of = Vec::with_capacity(p.target.len());
            for (i, ((t, c), id)) in p.target.iter().zip(p.clearing.iter()).zip(p.doc_id.iter()).enumerate() {
                let g = match (t, c, id) {
                    (Target::Ledger(t), Some(c), Some(id)) if t.is_receivable() => {
                        let g = groups.insert(c);
                        found.push((g, id));
                        g
                    }
                    (Target::Ledger(_) | Target::Payment, Some(c), _) => groups.get(c).unwrap_or_else(|| {
                        later.push((f, i, c));
                        NO_GROUP
                    }),
                    _ => NO_GROUP,
                };
                groups_of.push(g);
            }
            row_group.push(groups_of);
        }
        for (f, i, c) in later {
            row_group[f][i] = groups.get(c).unwrap_or(NO_GROUP);
        }
        // A counting sort by group keeps file order within each group.
        let mut offsets = vec![0u32; groups.len() + 1];
        for &(g, _) in &found {
            offsets[g as usize + 1] += 1;
        }
        for g in 1..offsets.len() {
            offsets[g] += offsets[g - 1];
        }
        let mut members = vec![""; found.len()];
        let mut at = offsets.clone();
        for (g, id) in found {
            members[at[g as usize] as usize] = id;
            at[g as usize] += 1;
        }
        let separator = match spec.refs_separator.trim() {
            "" => spec.refs_separator.clone(),
            t => t.to_string(),
        };
        Some(Links { separator, row_group, offsets, members })
    }

    /// The ids of the receivables that share file `f`'s row `i`'s clearing document, in file
    /// order.
    fn group(&self, f: usize, i: usize) -> &[&'a str] {
        match self.row_group[f][i] {
            NO_GROUP => &[],
            g => &self.members[self.offsets[g as usize] as usize..self.offsets[g as usize + 1] as usize],
        }
    }

    /// A payment's references (file `f`, row `i`, own id `own`): its own (`given`), then
    /// those of its clearing document's group, once each, without its own id. Written to
    /// `out`; false when there are none.
    pub(super) fn refs<'s>(
        &self,
        (f, i): (usize, usize),
        own: Option<&str>,
        given: Option<&'s str>,
        seen: &mut Vec<&'s str>,
        out: &mut String,
    ) -> bool
    where
        'a: 's,
    {
        seen.clear();
        let given = given.into_iter().flat_map(|r| r.split(self.separator.as_str())).map(str::trim);
        for id in given.chain(self.group(f, i).iter().copied()) {
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

    /// What a credit memo or write-off (file `f`, row `i`, own id `own`) without `applies_to`
    /// reduces: the first receivable of its clearing document's group other than itself.
    pub(super) fn applies_to(&self, (f, i): (usize, usize), own: Option<&str>) -> Option<&'a str> {
        self.group(f, i).iter().copied().find(|m| Some(*m) != own)
    }
}

/// Clearing documents → their group. Documents written as numbers (most ERPs number them)
/// are keyed by their value and length, which is faster to hash and compare than their
/// text; any other text is keyed as written.
#[derive(Debug)]
struct Groups<'a> {
    numbers: foldhash::HashMap<u64, u32>,
    texts: foldhash::HashMap<&'a str, u32>,
}

impl<'a> Groups<'a> {
    fn with_capacity(n: usize) -> Self {
        let mut numbers: foldhash::HashMap<u64, u32> = Default::default();
        numbers.reserve(n);
        Groups { numbers, texts: Default::default() }
    }

    fn len(&self) -> usize {
        self.numbers.len() + self.texts.len()
    }

    /// The group of `c`, a new one when `c` is new.
    fn insert(&mut self, c: &'a str) -> u32 {
        let next = self.len() as u32;
        match number_key(c) {
            Some(k) => *self.numbers.entry(k).or_insert(next),
            None => *self.texts.entry(c).or_insert(next),
        }
    }

    fn get(&self, c: &str) -> Option<u32> {
        match number_key(c) {
            Some(k) => self.numbers.get(&k).copied(),
            None => self.texts.get(c).copied(),
        }
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
