use ed25519_dalek::{Signer, SigningKey};

use super::*;
use crate::verify::Check;

/// `n` jobs signed by one key, in log order, with the signatures at `forged` broken.
fn jobs(n: usize, forged: &[usize]) -> Vec<SigJob> {
    jobs_by(n, 1, forged)
}

/// `n` jobs signed by `keys` keys in turn, in log order, the ones at `forged` broken.
fn jobs_by(n: usize, keys: usize, forged: &[usize]) -> Vec<SigJob> {
    let keys: Vec<SigningKey> = (0..keys)
        .map(|k| SigningKey::from_bytes(&[k as u8 + 7; 32]))
        .collect();
    (0..n)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let message = format!("entry {i}").into_bytes();
            let signed = if forged.contains(&i) {
                b"other"
            } else {
                &message[..]
            };
            SigJob {
                index: i as u64,
                stream: "agency-a".into(),
                revision: i as u64,
                key: key.verifying_key(),
                key_torsion_free: true,
                signature: key.sign(signed),
                message,
            }
        })
        .collect()
}

/// Pushes every job, as the replay does, and finishes.
fn run(jobs: Vec<SigJob>, strict: bool) -> (Signatures, Option<(u64, Failure)>) {
    let mut s = Signatures::new(strict);
    s.sample = Some((3, Vec::new()));
    let bound = IN_FLIGHT.max(2 * pool().current_num_threads());
    for job in jobs {
        s.push(job);
        assert!(s.in_flight <= bound);
        assert!(s.pending_bytes < WINDOW_BYTES && s.in_flight_bytes <= super::in_flight_bytes());
    }
    let failure = s.finish();
    assert_eq!((s.in_flight, s.pending.len()), (0, 0));
    (s, failure)
}

#[test]
fn every_signature_is_checked_across_batches_and_a_partial_last_one() {
    // Full batches and a partial one; fewer than one batch (split among the threads);
    // fewer than the smallest piece.
    for n in [3 * BATCH + 5, BATCH - 1, 5] {
        for strict in [false, true] {
            let (s, failure) = run(jobs(n, &[]), strict);
            assert!(failure.is_none());
            assert_eq!((s.verified(), s.pushed), (n as u64, n as u64));
            let sample = s.sample.expect("sample").1;
            assert_eq!(sample.len(), 3);
            assert_eq!(sample[2].0, b"entry 2");
        }
    }
}

#[test]
fn large_messages_are_held_within_a_bound_of_bytes() {
    // 300 signed messages of 512 KiB (150 MiB): a window of 16384 such jobs would hold
    // 8 GiB; windows are sent by bytes and the batches in flight bounded by bytes too
    // (asserted in `run`), batches are cut by bytes (below), and every signature is still
    // checked, the forged one named.
    let mut jobs = jobs(300, &[]);
    let key = SigningKey::from_bytes(&[7; 32]);
    for (i, job) in jobs.iter_mut().enumerate() {
        job.message.resize(512 << 10, b' ');
        let signed = if i == 211 {
            &b"other"[..]
        } else {
            &job.message
        };
        job.signature = key.sign(signed);
    }
    // A window's worth is cut into batches under 8 MiB: 15 of these jobs each.
    let mut window = jobs[..64]
        .iter()
        .zip(0..)
        .map(|(j, seq)| Queued {
            seq,
            job: SigJob {
                message: j.message.clone(),
                stream: j.stream.clone(),
                ..*j
            },
        })
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    let mut sizes = Vec::new();
    while window.peek().is_some() {
        let (batch, bytes) = next_batch(&mut window, BATCH);
        assert!(bytes <= BATCH_BYTES);
        assert_eq!(bytes, batch.iter().map(|q| q.job.bytes()).sum::<usize>());
        sizes.push(batch.len());
    }
    assert_eq!(BATCH_BYTES / jobs[0].bytes(), 15);
    assert_eq!(sizes, [15, 15, 15, 15, 4]);
    let (s, failure) = run(jobs, false);
    let (before, f) = failure.expect("the forged signature found");
    assert_eq!((before, f.index), (211, Some(211)));
    assert!(s.verified() < 300);
}

#[test]
fn of_failures_in_several_batches_the_lowest_index_is_reported() {
    let n = 3 * BATCH + 5;
    // In the last full batch, the second, and the partial one; whichever comes back first.
    let forged = [3 * BATCH + 1, 2 * BATCH + 9, BATCH + 3];
    for strict in [false, true] {
        let (_, failure) = run(jobs(n, &forged), strict);
        let (before, f) = failure.expect("forged signatures found");
        assert_eq!(before, BATCH as u64 + 3, "entries before the failure");
        assert_eq!(
            (f.index, f.check, f.stream.as_deref(), f.revision),
            (
                Some(BATCH as u64 + 3),
                Check::Signature,
                Some("agency-a"),
                Some(BATCH as u64 + 3)
            )
        );
    }
    // In a last batch split among the threads.
    let (_, failure) = run(jobs(700, &[650, 600]), false);
    assert_eq!(
        failure.map(|(before, f)| (before, f.index)),
        Some((600, Some(600)))
    );
}

#[test]
fn jobs_grouped_by_key_still_report_the_first_failure_in_log_order() {
    // Five keys in turn: grouping a window by key sends each key's jobs (about 3280)
    // together, so the forgery at 4 (key 4) is in a later batch than those at 4001 and
    // 4003 (keys 1 and 3), whichever comes back first, and the one at n - 2 in the
    // partial window.
    let n = WINDOW * BATCH + 700;
    let mut window: Vec<Queued> = jobs_by(WINDOW * BATCH, 5, &[])
        .into_iter()
        .zip(0..)
        .map(|(job, seq)| Queued { seq, job })
        .collect();
    group_by_key(&mut window);
    let batch_of = |seq| window.iter().position(|q| q.seq == seq).map(|p| p / BATCH);
    assert!(
        batch_of(4) > batch_of(4001),
        "the premise: the first forgery batched later"
    );
    for strict in [false, true] {
        let (s, failure) = run(jobs_by(n, 5, &[4001, 4, 4003, n - 2]), strict);
        let (before, f) = failure.expect("forged signatures found");
        assert_eq!((before, f.index, f.revision), (4, Some(4), Some(4)));
        assert_eq!(s.pushed, n as u64);
    }
    // Within one batch: two keys, whichever sorts first, one of these puts the lower
    // forgery after the other in the batch.
    for forged in [[2, 39], [3, 38]] {
        let (_, failure) = run(jobs_by(40, 2, &forged), false);
        let lower = forged[0].min(forged[1]) as u64;
        assert_eq!(
            failure.map(|(b, f)| (b, f.index)),
            Some((lower, Some(lower)))
        );
    }
    // Every signature of a valid window and a partial one verifies.
    let (s, failure) = run(jobs_by(n, 5, &[]), false);
    assert!(failure.is_none());
    assert_eq!(s.verified(), n as u64);
}

#[test]
fn a_window_is_grouped_by_key_in_the_order_pushed() {
    let mut window: Vec<Queued> = jobs_by(40, 3, &[])
        .into_iter()
        .enumerate()
        .map(|(i, job)| Queued { seq: i as u64, job })
        .collect();
    group_by_key(&mut window);
    for pair in window.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let order = a.job.key.as_bytes().cmp(b.job.key.as_bytes());
        assert!(order.is_lt() || (order.is_eq() && a.seq < b.seq));
    }
    let keys: std::collections::HashSet<_> = window.iter().map(|q| *q.job.key.as_bytes()).collect();
    assert_eq!(keys.len(), 3);
}

#[test]
fn a_failing_window_is_known_before_the_end() {
    // The replay asks `failed` after each chunk and stops reading once it is true: a
    // forgery in the first window must show there while later jobs are still being pushed,
    // without `finish`.
    let mut s = Signatures::new(false);
    let mut jobs = jobs_by(WINDOW * BATCH + 10, 3, &[5]).into_iter();
    for job in jobs.by_ref().take(WINDOW * BATCH) {
        s.push(job);
    }
    assert_eq!(s.pending.len(), 0, "the full window was sent");
    let started = std::time::Instant::now();
    while !s.failed() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the failing batch never reported"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for job in jobs {
        s.push(job);
    }
    let (before, f) = s.finish().expect("the forgery");
    assert_eq!((before, f.index), (5, Some(5)));
}

#[test]
fn the_bytes_in_flight_allow_two_full_batches_per_thread() {
    // Never fewer than two windows' worth; on a larger machine, two full batches per
    // thread, so that the byte bound never holds back the count bound (2 per thread).
    assert_eq!(in_flight_bytes_for(2), 2 * WINDOW_BYTES);
    for threads in [1, 2, 4, 5, 16, 64] {
        let bound = in_flight_bytes_for(threads);
        assert!(bound >= 2 * WINDOW_BYTES);
        assert!(bound >= 2 * threads * BATCH_BYTES, "{threads} threads");
    }
    assert_eq!(in_flight_bytes_for(64), 128 * BATCH_BYTES);
}
