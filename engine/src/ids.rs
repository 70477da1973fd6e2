//! [`IdSet`]: a set of text ids without an allocation per id. Ingestion checks millions of
//! ids for duplicates and references; a `HashSet<String>` spent most of its time in `malloc`
//! (measured: over half of Parquet ingest time). Here every id lives in one growing buffer and
//! the hash table holds only offsets into it.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A set of strings stored in one arena.
#[derive(Clone, Default)]
pub struct IdSet {
    arena: String,
    /// (start, len) of each id in the arena.
    spans: Vec<(u32, u32)>,
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl std::fmt::Debug for IdSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdSet").field("len", &self.spans.len()).finish()
    }
}

impl IdSet {
    /// An empty set.
    pub fn new() -> Self {
        IdSet::default()
    }

    /// The id inserted as number `index` (ids are numbered in insertion order from 0).
    pub fn get(&self, index: u32) -> &str {
        let (start, len) = self.spans[index as usize];
        &self.arena[start as usize..(start + len) as usize]
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        let hash = self.hash(id);
        self.table.find(hash, |&i| self.get(i) == id).is_some()
    }

    /// Add `id`; returns false if it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        self.insert_numbered(id).1
    }

    /// Add `id`; returns its number (see [`IdSet::get`]) and whether it is new.
    pub fn insert_numbered(&mut self, id: &str) -> (u32, bool) {
        let hash = self.hash(id);
        let IdSet { arena, spans, table, hasher } = self;
        let get = |i: u32| {
            let (start, len) = spans[i as usize];
            &arena[start as usize..(start + len) as usize]
        };
        if let Some(&i) = table.find(hash, |&i| get(i) == id) {
            return (i, false);
        }
        let index = spans.len() as u32;
        let start = arena.len() as u32;
        arena.push_str(id);
        spans.push((start, id.len() as u32));
        let (arena, spans) = (&*arena, &*spans);
        table.insert_unique(hash, index, |&i| {
            let (s, l) = spans[i as usize];
            hasher.hash_one(&arena[s as usize..(s + l) as usize])
        });
        (index, true)
    }

    /// Make room for `additional` more ids of about `bytes_each` bytes.
    pub fn reserve(&mut self, additional: usize, bytes_each: usize) {
        let IdSet { arena, spans, table, hasher } = self;
        arena.reserve(additional * bytes_each);
        spans.reserve(additional);
        let (arena, spans) = (&*arena, &*spans);
        table.reserve(additional, |&i| {
            let (s, l) = spans[i as usize];
            hasher.hash_one(&arena[s as usize..(s + l) as usize])
        });
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_reports_repeats_and_contains_finds_them() {
        let mut set = IdSet::new();
        for i in 0..10_000 {
            assert!(set.insert(&format!("{i:08}")));
        }
        assert!(!set.insert("00000042"));
        assert!(set.contains("00009999"));
        assert!(!set.contains("0000999"));
        assert!(!set.contains(""));
        assert!(set.insert(""));
        assert!(set.contains(""));
        assert_eq!(set.len(), 10_001);
        assert_eq!(set.insert_numbered("00000007"), (7, false));
        assert_eq!(set.insert_numbered("new"), (10_001, true));
        assert_eq!(set.get(10_001), "new");
    }
}
