//! Links by clearing document across every file of a source: which receivables share a
//! clearing document, so that a payment references them and a credit memo reduces the first.

use super::params::SourceSpec;
use super::route::{Parsed, Target};

/// Links by clearing document: a payment references the invoices and debit memos that share
/// its clearing document (after any references of its own), and a credit memo or write-off
/// without `applies_to` reduces the first of them. Built once over every file; each routed
/// frame asks it for its rows' links only.
#[derive(Debug)]
pub(super) struct Links<'a> {
    separator: String,
    clearing: Vec<Vec<Option<&'a str>>>,
    ids: Vec<Vec<Option<&'a str>>>,
    /// Clearing document → the first and last of its receivables in `members`.
    groups: foldhash::HashMap<&'a str, (u32, u32)>,
    /// (file, row, next member of the same group), in file order: no group needs an
    /// allocation of its own.
    members: Vec<(u32, u32, u32)>,
}

/// The end of a chain of [`Links::members`].
const NO_MEMBER: u32 = u32::MAX;

impl<'a> Links<'a> {
    pub(super) fn new(spec: &SourceSpec, parsed: &'a [Parsed]) -> Option<Links<'a>> {
        spec.clearing_column.as_ref()?;
        let clearing: Vec<Vec<Option<&str>>> = parsed.iter().map(|p| p.clearing.iter().collect()).collect();
        let ids: Vec<Vec<Option<&str>>> = parsed.iter().map(|p| p.doc_id.iter().collect()).collect();
        let rows: usize = parsed.iter().map(|p| p.target.len()).sum();
        let mut groups: foldhash::HashMap<&str, (u32, u32)> = Default::default();
        groups.reserve(rows / 2);
        let mut members: Vec<(u32, u32, u32)> = Vec::new();
        for (f, p) in parsed.iter().enumerate() {
            for (i, t) in p.target.iter().enumerate() {
                if let (Target::Ledger(t), Some(c), Some(_)) = (t, clearing[f][i], ids[f][i])
                    && t.is_receivable()
                {
                    let k = members.len() as u32;
                    members.push((f as u32, i as u32, NO_MEMBER));
                    match groups.get_mut(c) {
                        Some((_, last)) => {
                            members[*last as usize].2 = k;
                            *last = k;
                        }
                        None => {
                            groups.insert(c, (k, k));
                        }
                    }
                }
            }
        }
        let separator = match spec.refs_separator.trim() {
            "" => spec.refs_separator.clone(),
            t => t.to_string(),
        };
        Some(Links { separator, clearing, ids, groups, members })
    }

    /// The document ids of the group of file `f`'s row `i`, in file order.
    fn group(&self, f: usize, i: usize) -> impl Iterator<Item = &'a str> + '_ {
        let first = self.clearing[f][i].and_then(|c| self.groups.get(c)).map(|(first, _)| *first);
        std::iter::successors(first, |&k| Some(self.members[k as usize].2).filter(|&n| n != NO_MEMBER))
            .map(|k| self.members[k as usize])
            .map(|(f, i, _)| self.ids[f as usize][i as usize].unwrap_or_default())
    }

    /// A payment's references: its own, then its group's, once each, without itself.
    pub(super) fn refs(
        &self,
        f: usize,
        i: usize,
        given: Option<&'a str>,
        seen: &mut Vec<&'a str>,
        out: &mut String,
    ) -> bool {
        let own = self.ids[f][i];
        seen.clear();
        let given = given.into_iter().flat_map(|r| r.split(self.separator.as_str())).map(str::trim);
        for id in given.chain(self.group(f, i)) {
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

    /// What a credit memo or write-off without `applies_to` reduces: its group's first
    /// receivable.
    pub(super) fn applies_to(&self, f: usize, i: usize) -> Option<&'a str> {
        let own = self.ids[f][i];
        self.group(f, i).find(|m| Some(*m) != own)
    }
}
