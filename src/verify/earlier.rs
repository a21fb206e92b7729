//! Earlier checkpoints an auditor kept (`verify --since`): the bundle's checkpoint must
//! extend each of them, or the log was forked or rewritten since. A bundle that holds the
//! log's first entries up to an earlier checkpoint's size shows it from the entries alone
//! (their root at that size); any other needs the server's consistency proof between the
//! two sizes (`GET /v1/log/proof/consistency`, `--consistency`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::report::{Check, Failure};
use crate::log::merkle::Hash;
use crate::log::proof::verify_consistency;
use crate::log::Checkpoint;

/// A consistency proof as `GET /v1/log/proof/consistency` serves it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// Standard base64 of each 32-byte hash.
    pub hashes: Vec<String>,
}

impl ConsistencyProof {
    fn decoded(&self) -> Option<Vec<Hash>> {
        self.hashes
            .iter()
            .map(|h| B64.decode(h).ok()?.try_into().ok())
            .collect()
    }
}

/// Where an earlier tree comes from: a checkpoint given with `--since`, or identity heads
/// kept from a case bundle (`--heads`), which name the tree they count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Since,
    Heads,
}

impl Source {
    /// How a failure names the earlier tree.
    fn name(self, size: u64) -> String {
        match self {
            Source::Since => format!("the earlier checkpoint (size {size})"),
            Source::Heads => {
                format!("the tree of the identity heads given with --heads (size {size})")
            }
        }
    }
}

/// The earlier checkpoints to check the bundle's against, and the proofs given for them.
#[derive(Debug, Default)]
pub struct Since {
    earlier: Vec<(Checkpoint, Source)>,
    proofs: Vec<ConsistencyProof>,
    /// Earlier trees left for the bundle's own first entries, largest first.
    pending: Vec<(u64, Hash, Source)>,
    /// The earlier trees shown extended.
    shown: Vec<(u64, Hash, Source)>,
    /// Identity heads kept from case bundles (`verify --heads`), checked against this
    /// bundle too (see [`super::identity`]).
    pub(super) heads: Vec<String>,
}

impl Since {
    /// `earlier` checkpoints (already verified under the log key), and `proofs` from their
    /// sizes to the bundle's checkpoint size.
    pub fn new(earlier: Vec<Checkpoint>, proofs: Vec<ConsistencyProof>) -> Self {
        Self {
            earlier: earlier.into_iter().map(|c| (c, Source::Since)).collect(),
            proofs,
            ..Self::default()
        }
    }

    /// Checks identity heads kept from a case bundle (`note`, a signed note already opened
    /// under the log key, counting in `tree`) too: against this bundle when it has the same
    /// checkpoint, else against a full-log bundle whose first entries reach that tree.
    pub fn with_heads(mut self, note: String, tree: Checkpoint) -> Self {
        self.heads.push(note);
        self.earlier.push((tree, Source::Heads));
        self
    }

    /// Once the bundle's checkpoint `cp` is known: each earlier checkpoint is shown by a
    /// proof given for it, or left for the entries.
    pub(super) fn start(&mut self, cp: &Checkpoint) -> Result<(), Failure> {
        for (e, source) in std::mem::take(&mut self.earlier) {
            let fail = |m: String| Failure::bundle(Check::Consistency, m);
            let earlier = source.name(e.size);
            if e.size > cp.size {
                return Err(fail(format!(
                    "the checkpoint verified (size {}) is older than {earlier}: the log was \
                     rolled back, or this is not its latest checkpoint",
                    cp.size
                )));
            }
            // The proof to this checkpoint's size, else any from the earlier size (which
            // then fails, naming the sizes). From size 0 or to the same size the proof is
            // empty and need not be given.
            let from_here = |p: &&ConsistencyProof| p.from == e.size;
            let proof = (self.proofs.iter().filter(from_here))
                .find(|p| p.to == cp.size)
                .or_else(|| self.proofs.iter().find(from_here));
            let hashes = match proof {
                Some(p) => p.decoded().filter(|_| p.to == cp.size).ok_or_else(|| {
                    fail(format!(
                        "the consistency proof from size {} must be to the size of the checkpoint \
                         verified, {} (it is to {}), and hold base64 hashes of 32 bytes",
                        p.from, cp.size, p.to
                    ))
                })?,
                None if e.size == 0 || e.size == cp.size => Vec::new(),
                None => {
                    self.pending.push((e.size, e.root, source));
                    continue;
                }
            };
            verify_consistency(e.size, cp.size, &hashes, &e.root, &cp.root).map_err(|err| {
                fail(if e.size == cp.size {
                    format!(
                        "the checkpoint verified and {earlier} are of the same size with \
                         different roots: the log was forked or rewritten"
                    )
                } else {
                    format!(
                        "the checkpoint verified (size {}) does not extend {earlier}: {err}; \
                         the log was forked or rewritten{}",
                        cp.size,
                        if hashes.is_empty() {
                            ""
                        } else {
                            ", or the proof is wrong"
                        }
                    )
                })
            })?;
            self.shown.push((e.size, e.root, source));
        }
        self.pending
            .sort_unstable_by_key(|p| std::cmp::Reverse(p.0));
        Ok(())
    }

    /// Checks a checkpoint on its own, without entries (`verify-checkpoint`): each earlier
    /// one must be of the same size (then the same root), or shown extended by a proof
    /// given for it. The sizes shown, ascending.
    pub fn extended_by(mut self, cp: &Checkpoint) -> Result<Vec<u64>, Failure> {
        self.start(cp)?;
        match self.pending.last() {
            None => Ok(self.shown()),
            Some(&(size, _, _)) => Err(Failure::bundle(
                Check::Consistency,
                format!(
                    "no consistency proof from size {size} was given: fetch GET \
                     /v1/log/proof/consistency?from={size}&to={} and pass it with --consistency",
                    cp.size
                ),
            )),
        }
    }

    /// The sizes of the earlier checkpoints shown extended, ascending.
    pub(super) fn shown(&self) -> Vec<u64> {
        let since = self.shown.iter().filter(|t| t.2 == Source::Since);
        let mut sizes: Vec<u64> = since.map(|t| t.0).collect();
        sizes.sort_unstable();
        sizes
    }

    /// Whether the bundle's checkpoint was shown to extend the tree of `size` and `root`.
    pub(super) fn extends(&self, size: u64, root: &Hash) -> bool {
        self.shown.iter().any(|t| (t.0, t.1) == (size, *root))
    }

    /// The next size at which the entries' root is compared, if any.
    pub(super) fn next(&self) -> Option<u64> {
        self.pending.last().map(|p| p.0)
    }

    /// The bundle's first `size` entries (ending at entry `index`) hash to `root`.
    pub(super) fn reached(&mut self, index: u64, size: u64, root: &Hash) -> Result<(), Failure> {
        while let Some(&(s, earlier, source)) = self.pending.last().filter(|p| p.0 == size) {
            self.pending.pop();
            if earlier != *root {
                return Err(Failure::at(
                    index,
                    Check::Consistency,
                    format!(
                        "the first {s} entries hash to {}, {} to {}: the log was forked or \
                         rewritten since",
                        B64.encode(root),
                        source.name(s),
                        B64.encode(earlier)
                    ),
                ));
            }
            self.shown.push((s, earlier, source));
        }
        Ok(())
    }

    /// After the last entry: an earlier checkpoint neither a proof nor the entries showed.
    pub(super) fn finish(&self, cp: &Checkpoint) -> Result<(), Failure> {
        match self.pending.last() {
            None => Ok(()),
            Some(&(size, _, Source::Heads)) => Err(Failure::bundle(
                Check::IdentityHeads,
                format!(
                    "the identity heads given with --heads are for the tree of size {size}, \
                     older than the bundle's checkpoint (size {}): only a bundle of the whole \
                     log (caseledger export) can be checked against them",
                    cp.size
                ),
            )),
            Some(&(size, _, Source::Since)) => Err(Failure::bundle(
                Check::Consistency,
                format!(
                    "the bundle does not hold the log's first {size} entries, so it cannot show \
                     that its checkpoint extends the earlier one of size {size}: give the \
                     consistency proof with --consistency (GET \
                     /v1/log/proof/consistency?from={size}&to={})",
                    cp.size
                ),
            )),
        }
    }
}
