//! Which row holds this id? A hash index over the ids of a [`Texts`] (ids are unique once
//! validated), storing row numbers only: the ids themselves stay in the one buffer. Ids are
//! hashed and compared as bytes (they were valid UTF-8 when pushed, so no check is repeated).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::{Book, Texts};

/// Row numbers of `texts`, found by id.
#[derive(Debug, Default)]
pub(crate) struct Index {
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Index {
    /// An index over every id of `texts`.
    pub(crate) fn of(texts: &Texts) -> Index {
        Index::of_where(texts, |_| true)
    }

    /// An index over the ids of the rows of `texts` that `keep` accepts.
    pub(crate) fn of_where(texts: &Texts, keep: impl Fn(usize) -> bool) -> Index {
        let mut index = Index::default();
        index.table.reserve(texts.len(), |_| 0);
        for i in (0..texts.len()).filter(|&i| keep(i)) {
            index.insert(texts, i as u32);
        }
        index
    }

    /// Add row `i` of `texts`.
    pub(crate) fn insert(&mut self, texts: &Texts, i: u32) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(texts.bytes(i as usize));
        self.table.insert_unique(hash, i, |&j| hasher.hash_one(texts.bytes(j as usize)));
    }

    /// The row of `texts` whose id is `id`.
    pub(crate) fn find(&self, texts: &Texts, id: &str) -> Option<u32> {
        let id = id.as_bytes();
        self.table.find(self.hasher.hash_one(id), |&j| texts.bytes(j as usize) == id).copied()
    }

    /// The index with every row renumbered: row `r` becomes `to[r]` (the texts were reordered
    /// the same way).
    pub(crate) fn renumbered(mut self, to: &[u32]) -> Index {
        for r in self.table.iter_mut() {
            *r = to[*r as usize];
        }
        self
    }
}

/// The book's documents and payments found by id.
#[derive(Debug, Default)]
pub struct BookIndex {
    pub(crate) docs: Index,
    pub(crate) payments: Index,
}

impl BookIndex {
    /// Index the ids of `book` (a [`BookBuilder`](super::BookBuilder) can hand over the
    /// indexes it built instead: [`finish_indexed`](super::BookBuilder::finish_indexed)).
    pub fn of(book: &Book) -> BookIndex {
        BookIndex { docs: Index::of(&book.docs.id), payments: Index::of(&book.payments.id) }
    }

    /// The document of `book` with id `id`.
    pub fn doc(&self, book: &Book, id: &str) -> Option<u32> {
        self.docs.find(&book.docs.id, id)
    }

    /// The payment of `book` with id `id`.
    pub fn payment(&self, book: &Book, id: &str) -> Option<u32> {
        self.payments.find(&book.payments.id, id)
    }
}
