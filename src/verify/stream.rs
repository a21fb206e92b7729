//! Verifying a bundle as it is read: the reader cuts entries on a thread of its own while
//! the verifier checks them; optionally pausing between chunks for a benchmark.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use super::replay::Replay;
use super::{Check, Failure, Options, Report, Since, Verifier, CHUNK};
use crate::bundle::read::{self, Item, RawChunk};
use crate::bundle::Bundle;
use crate::log::note::NoteVerifier;

/// Items the reader may have read ahead of the verifier.
const READ_AHEAD: usize = 4;

/// Threads freeing the folded state of finished verifications, not yet joined.
static FREEING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Frees a large folded state on a thread of its own: nobody waits for it (the CLI exits).
/// If no thread can be started, it is freed here.
pub(super) fn free_apart(replay: Replay) {
    let mut freeing = FREEING.lock().unwrap_or_else(|e| e.into_inner());
    freeing.retain(|f| !f.is_finished());
    if let Ok(f) = std::thread::Builder::new()
        .name("free-replay".into())
        .spawn(move || drop(replay))
    {
        freeing.push(f);
    }
}

/// Waits until the folded state of every finished verification is freed. A benchmark calls
/// it so that freeing does not overlap what it measures next.
pub fn wait_for_freeing() {
    let freeing = std::mem::take(&mut *FREEING.lock().unwrap_or_else(|e| e.into_inner()));
    for f in freeing {
        let _ = f.join();
    }
}

/// Verifies a bundle streamed from `reader`, parsing on its own thread.
pub fn verify_reader(reader: impl Read + Send, key: &NoteVerifier, opts: Options) -> Report {
    run(reader, key, opts, Since::default(), None)
}

/// [`verify_reader`], also checking that the bundle's checkpoint extends each earlier
/// checkpoint in `since`.
pub fn verify_reader_since(
    reader: impl Read + Send,
    key: &NoteVerifier,
    opts: Options,
    since: Since,
) -> Report {
    run(reader, key, opts, since, None)
}

/// [`verify_reader`], pausing on this thread to call `pause` with the number of entries
/// handed over so far, after the first chunk that ends `every` entries or more past the
/// previous pause. While it runs the verifier's workers are idle, and so is the reader:
/// before a pause the verifier waits for every signature batch sent so far, and until the
/// reader is blocked on its full queue (a few chunks read ahead) or finished, so neither
/// verifying nor reading overlaps the pause. Never called once a
/// failure is known. `bench-log` interleaves its raw reference with the verification this way.
pub fn verify_reader_pausing(
    reader: impl Read + Send,
    key: &NoteVerifier,
    opts: Options,
    every: u64,
    pause: &mut dyn FnMut(u64),
) -> Report {
    run(
        reader,
        key,
        opts,
        Since::default(),
        Some((every.max(1), pause)),
    )
}

fn run(
    reader: impl Read + Send,
    key: &NoteVerifier,
    opts: Options,
    since: Since,
    mut pacing: Option<(u64, &mut dyn FnMut(u64))>,
) -> Report {
    let (tx, rx) = crossbeam_channel::bounded::<Item>(READ_AHEAD);
    let (spare_tx, spare_rx) = crossbeam_channel::bounded::<RawChunk>(2);
    // Set by the reader before a send that finds the queue full (and so blocks, while the
    // verifier is paused and takes nothing).
    let blocked = AtomicBool::new(false);
    let mut v = Verifier::new(key, opts).since(since);
    v.spare = Some(spare_tx);
    let parsed = std::thread::scope(|s| {
        let blocked = &blocked;
        let parser = s.spawn(move || {
            read::stream_reusing(reader, CHUNK, Some(&spare_rx), &mut |item| {
                blocked.store(tx.is_full(), Ordering::Release);
                let sent = tx.send(item).is_ok();
                blocked.store(false, Ordering::Release);
                sent
            })
        });
        let mut paused_at = 0;
        for item in rx.iter() {
            let entries = matches!(item, Item::Entries(_));
            if !v.feed(item) {
                break;
            }
            if let Some((every, pause)) = pacing.as_mut() {
                if entries && v.position >= paused_at + *every {
                    let reader_idle = || {
                        parser.is_finished() || (blocked.load(Ordering::Acquire) && rx.is_full())
                    };
                    if v.idle() {
                        break;
                    }
                    while !reader_idle() {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    pause(v.position);
                    paused_at = v.position;
                }
            }
        }
        drop(rx);
        parser.join()
    });
    match parsed {
        Ok(ended) => v.reading_ended(ended),
        Err(_) => v.fail(Failure::bundle(Check::Format, "the bundle reader panicked")),
    }
    v.finish()
}

/// Verifies an in-memory bundle.
pub fn verify_bundle(bundle: &Bundle, key: &NoteVerifier, opts: Options) -> Report {
    let mut v = Verifier::new(key, opts);
    if v.feed(Item::Header(bundle.header())) {
        for chunk in bundle.entries.chunks(CHUNK) {
            if !v.feed(Item::Entries(RawChunk::from_entries(chunk))) {
                break;
            }
        }
        if let Some(h) = &bundle.identity_heads {
            v.feed(Item::IdentityHeads(h.clone()));
        }
    }
    v.finish()
}
