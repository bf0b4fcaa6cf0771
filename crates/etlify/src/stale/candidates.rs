//! The candidate ids of a run of the changed-since plan, read once and
//! handed out a page at a time in ascending order.
//!
//! The candidate query is a union over every changed row's records
//! (`FinderSql::changed_candidates`). Read a page per call, each call
//! worked the whole union out again, so a run cost the square of what
//! changed: a complete check at 1M users took 9.7 s on SQLite after twenty
//! rounds of changes, five times a scan of the whole table
//! (docs/BENCHMARKS.md, "The complete check reads its candidates once").
//! Read once, a run costs what changed.
//!
//! Integer ids are kept in a compressed bitmap (`roaring`), which drops
//! the repeats the union may return and iterates in ascending order. It
//! takes two bytes per candidate, or one bit per id of their range where
//! they are dense (125 KB for every id of a table of a million), plus a
//! few dozen bytes per block of 65,536 ids that holds any. UUID and text
//! keys, which no bitmap holds, are kept in an ordered set.

use futures_util::TryStreamExt;
use std::collections::BTreeSet;

use roaring::RoaringTreemap;
use sea_query::SelectStatement;

use crate::error::Result;
use crate::id::ResourceId;
use crate::store::Store;

/// Candidate ids not handed out yet.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    ids: RoaringTreemap,
    /// Keys that are not integers.
    others: BTreeSet<ResourceId>,
}

/// The bitmap's key of `id`: its bits with the sign flipped, so that
/// ascending keys are ascending ids, negative ones included.
fn key(id: i64) -> u64 {
    (id as u64) ^ (1 << 63)
}

fn id(key: u64) -> ResourceId {
    ResourceId::new((key ^ (1 << 63)) as i64)
}

impl Candidates {
    /// Runs `query` (one id column) and keeps every id it returns.
    pub(crate) async fn read(store: &Store, query: &SelectStatement) -> Result<Self> {
        let (candidates, _) = Self::read_at_most(store, query, u64::MAX).await?;
        Ok(candidates)
    }

    /// Like [`Candidates::read`], but stops reading once more than `most`
    /// distinct ids came; returns whether every id was read.
    pub(crate) async fn read_at_most(
        store: &Store,
        query: &SelectStatement,
        most: u64,
    ) -> Result<(Self, bool)> {
        let (sql, values) = store.build(query);
        let mut candidates = Self::default();
        // Counted as they come: the bitmap's own count walks its containers.
        let mut distinct = 0_u64;
        let mut rows = store.fetch_ids(sql, values);
        while let Some(candidate) = rows.try_next().await? {
            let new = match candidate.as_int() {
                Some(id) => candidates.ids.insert(key(id)),
                None => candidates.others.insert(candidate),
            };
            if new {
                distinct += 1;
                if distinct > most {
                    return Ok((candidates, false));
                }
            }
        }
        Ok((candidates, true))
    }

    /// Removes and returns the `count` lowest ids (fewer at the end).
    pub(crate) fn take_lowest(&mut self, count: usize) -> Vec<ResourceId> {
        if !self.others.is_empty() {
            return std::iter::from_fn(|| self.others.pop_first())
                .take(count)
                .collect();
        }
        let lowest: Vec<u64> = self.ids.iter().take(count).collect();
        if let Some(&last) = lowest.last() {
            self.ids.remove_range(..=last);
        }
        lowest.into_iter().map(id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(values: &[i64]) -> Vec<ResourceId> {
        values.iter().copied().map(ResourceId::new).collect()
    }

    #[test]
    fn candidates_are_handed_out_in_ascending_order_once_each() {
        let mut candidates = Candidates::default();
        for value in [7, -3, 42, 7, i64::MIN, i64::MAX, 0, 42] {
            candidates.ids.insert(key(value));
        }
        assert_eq!(candidates.take_lowest(3), ids(&[i64::MIN, -3, 0]));
        assert_eq!(candidates.take_lowest(2), ids(&[7, 42]));
        assert_eq!(candidates.take_lowest(5), ids(&[i64::MAX]));
        assert_eq!(candidates.take_lowest(5), ids(&[]));
    }
}
