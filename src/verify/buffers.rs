//! Reuse of the verifier's large per-chunk vectors.

use super::entry::Prepared;
use super::report::Failure;

/// The large per-chunk vectors, reused: each one freed and allocated anew costs fresh zeroed
/// pages (2% of a large verification).
#[derive(Default)]
pub(super) struct Buffers {
    pub prepared: Vec<Result<Prepared<'static>, Failure>>,
}

/// An emptied vector's allocation, for items of the same layout and another lifetime: the
/// in-place collect keeps the allocation, and no item is converted (there is none).
pub(super) fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_vector_keeps_its_allocation() {
        let text = String::from("borrowed");
        let mut v: Vec<&str> = Vec::with_capacity(4096);
        v.push(&text);
        let at = v.as_ptr() as usize;
        let w: Vec<&'static str> = reuse(v);
        assert_eq!((w.len(), w.capacity(), w.as_ptr() as usize), (0, 4096, at));
    }
}
