//! Which row holds this id? A hash index over the ids of a [`Texts`] (ids are unique once
//! validated), storing row numbers only: the ids themselves stay in the one buffer.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::Texts;

/// Row numbers of `texts`, found by id.
#[derive(Debug, Default)]
pub(crate) struct Index {
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Index {
    /// An index over every id of `texts`.
    pub(crate) fn of(texts: &Texts) -> Index {
        let mut index = Index::default();
        index.reserve(texts.len());
        for i in 0..texts.len() {
            index.insert(texts, i as u32);
        }
        index
    }

    /// Room for `n` more rows.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.table.reserve(n, |_| 0);
    }

    /// Add row `i` of `texts`.
    pub(crate) fn insert(&mut self, texts: &Texts, i: u32) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(texts.get(i as usize));
        self.table.insert_unique(hash, i, |&j| hasher.hash_one(texts.get(j as usize)));
    }

    /// The row of `texts` whose id is `id`.
    pub(crate) fn find(&self, texts: &Texts, id: &str) -> Option<u32> {
        self.table.find(self.hasher.hash_one(id), |&j| texts.get(j as usize) == id).copied()
    }
}
