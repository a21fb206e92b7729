//! The streamed verifier reads a bundle the same whatever its JSON layout: the exporter's
//! one entry per line (which the reader cuts at line ends), several entries per line, the
//! array closed on the last entry's line, CRLF line ends, pretty-printed, members in another
//! order. Each layout of a valid bundle verifies; each layout of a tampered one fails at the
//! tampered entry.

mod common;

use caseledger::bundle::{Bundle, BundleEntry};
use caseledger::verify::{verify_reader, Check, Options, Report};
use common::world;

fn entry(e: &BundleEntry) -> String {
    serde_json::to_string(e).expect("entry")
}

fn header(b: &Bundle) -> String {
    let s = |v: &str| serde_json::to_string(v).expect("string");
    format!(
        "\"format\":{},\"origin\":{},\"log_key\":{},\"checkpoint\":{}",
        s(&b.format),
        s(&b.origin),
        s(&b.log_key),
        s(&b.checkpoint)
    )
}

/// The same bundle in every layout, named.
fn layouts(b: &Bundle) -> Vec<(&'static str, String)> {
    let lines: Vec<String> = b.entries.iter().map(entry).collect();
    let h = header(b);
    let pairs: Vec<String> = lines.chunks(2).map(|p| p.join(",")).collect();
    vec![
        (
            "exporter",
            format!("{{{h},\"entries\":[\n{}\n]}}\n", lines.join(",\n")),
        ),
        (
            "closed on the last line",
            format!("{{{h},\"entries\":[\n{}]}}", lines.join(",\n")),
        ),
        (
            "two per line",
            format!("{{{h},\"entries\":[\n{}\n]}}\n", pairs.join(",\n")),
        ),
        (
            "crlf",
            format!("{{{h},\"entries\":[\r\n{}\r\n]}}\r\n", lines.join(" ,\r\n")),
        ),
        (
            "entries first",
            format!("{{\"entries\":[\n{}\n],\n{h}}}", lines.join(",\n")),
        ),
        ("one line", serde_json::to_string(b).expect("compact")),
        ("pretty", serde_json::to_string_pretty(b).expect("pretty")),
    ]
}

fn read(w: &common::World, text: &str) -> Report {
    verify_reader(
        text.as_bytes(),
        &w.log.signer.verifier(),
        Options::default(),
    )
}

#[test]
fn every_layout_of_a_valid_bundle_verifies() {
    let w = world();
    let b = w.log.bundle();
    for (name, text) in layouts(&b) {
        let r = read(&w, &text);
        assert!(r.ok, "{name}: {:?}", r.failure);
        assert_eq!(r.entries, b.entries.len() as u64, "{name}");
    }
}

#[test]
fn every_layout_of_a_tampered_bundle_fails_at_the_tampered_entry() {
    let w = world();
    let mut b = w.log.bundle();
    let victim = 3;
    // Still a valid entry (a microsecond later), but not the bytes the tree holds.
    b.entries[victim].entry = b.entries[victim].entry.replacen(".000000Z", ".000001Z", 1);
    for (name, text) in layouts(&b) {
        let f = read(&w, &text)
            .failure
            .unwrap_or_else(|| panic!("{name} accepted"));
        assert_eq!(f.index, Some(victim as u64), "{name}: {f}");
        assert_eq!(f.check, Check::InclusionProof, "{name}: {f}");
    }
}

/// A spot that is not JSON after a failing entry: the entry's own failure is named (the
/// first in log order), not the spot. Between lines (the reader's error) and inside a
/// line of several entries (the exact re-split's error) alike.
#[test]
fn a_malformed_spot_after_a_failing_entry_names_the_entry() {
    let mut w = world();
    let bad = w.rogue_agency();
    for n in 0..3 {
        let name = format!("later-{n}");
        w.log.append(
            &w.admin,
            "agency.registered",
            &format!("agency-{name}"),
            common::agency(&name),
        );
    }
    let b = w.log.bundle();
    let after = entry(&b.entries[bad as usize + 2]);
    let mut checked = 0;
    for (name, text) in layouts(&b) {
        // Pretty-printed entries are spelled otherwise; entries before the header cannot be
        // judged before it, so a spot among them is the first failure there.
        let Some(at) = text.find(&after).filter(|_| name != "entries first") else {
            continue;
        };
        let mut broken = text.clone();
        broken.insert_str(at + after.len(), " x");
        let f = read(&w, &broken)
            .failure
            .unwrap_or_else(|| panic!("{name} accepted"));
        assert_eq!((f.index, f.check), (Some(bad), Check::Rule), "{name}: {f}");
        checked += 1;
    }
    assert_eq!(
        checked, 5,
        "the layouts with the header first and compact entries"
    );
}

/// DEL, which JSON leaves unescaped, in a proof hash: the exact scan declines the line,
/// and the entry is refused as an inclusion proof failure in every layout.
#[test]
fn a_proof_hash_holding_del_is_refused_at_its_entry() {
    let w = world();
    let mut b = w.log.bundle();
    b.entries[2].proof[0].replace_range(10..11, "\u{7f}");
    for (name, text) in layouts(&b) {
        assert!(text.contains('\u{7f}'), "{name}: written raw");
        let f = read(&w, &text)
            .failure
            .unwrap_or_else(|| panic!("{name} accepted"));
        assert_eq!(
            (f.index, f.check),
            (Some(2), Check::InclusionProof),
            "{name}: {f}"
        );
    }
}

#[test]
fn a_line_that_is_not_whole_json_values_is_refused_as_malformed() {
    let w = world();
    let b = w.log.bundle();
    let lines: Vec<String> = b.entries.iter().map(entry).collect();
    // The second line opens a string it never closes; the exporter-like tail is inside it.
    let broken = format!(
        "{{{},\"entries\":[\n{},\n{{\"index\":1,\"entry\":\"x{}\n]}}\n",
        header(&b),
        lines[0],
        &lines[1][lines[1].find(",\"proof\"").expect("proof")..]
    );
    let f = read(&w, &broken).failure.expect("refused");
    assert_eq!(f.check, Check::Format, "{f}");
}

/// serde reads a struct from an array of its fields too; a bundle entry is an object.
#[test]
fn an_entry_spelled_as_an_array_is_refused_as_malformed() {
    let w = world();
    let b = w.log.bundle();
    let mut lines: Vec<String> = b.entries.iter().map(entry).collect();
    let e = &b.entries[2];
    lines[2] = serde_json::to_string(&(e.index, &e.entry, &e.proof)).expect("array");
    assert!(lines[2].starts_with("[2,"), "{}", lines[2]);
    let text = format!(
        "{{{},\"entries\":[\n{}\n]}}\n",
        header(&b),
        lines.join(",\n")
    );
    let f = read(&w, &text).failure.expect("refused");
    assert_eq!(f.check, Check::Format, "{f}");
    assert!(f.message.contains("entry number 2"), "{f}");
}

#[test]
fn form_feed_is_not_json_whitespace() {
    let w = world();
    let b = w.log.bundle();
    let lines: Vec<String> = b.entries.iter().map(entry).collect();
    let text = format!(
        "{{{},\"entries\":[\n{}\n]}}\n",
        header(&b),
        lines.join(",\x0c\n")
    );
    let f = read(&w, &text).failure.expect("refused");
    assert_eq!(f.check, Check::Format, "{f}");
}

#[test]
fn only_a_bounded_number_of_entries_may_come_before_the_header() {
    let w = world();
    let b = w.log.bundle();
    let many = vec!["{}"; 9 * caseledger::verify::CHUNK + 1].join(",");
    let text = format!("{{\"entries\":[{many}],{}}}", header(&b));
    let f = read(&w, &text).failure.expect("refused");
    assert_eq!(f.check, Check::Format, "{f}");
    assert!(f.message.contains("before the header"), "{f}");
}

/// A hostile bundle whose lines look like entries but hold hundreds of thousands of small
/// values each: refused at the first value that is not an entry. (Before, the whole chunk
/// was split and prepared at once, gigabytes for this one; that a split is judged in
/// bounded pieces is tested in `bundle::chunk`: this test checks only the answer.)
#[test]
fn a_line_of_many_small_values_is_refused_at_the_first_that_is_not_an_entry() {
    let w = world();
    let b = w.log.bundle();
    let line = format!(r#"{{"index":0}}{},{{"p":["x"]}}"#, ",1".repeat(500_000));
    let lines = vec![line; 8].join(",\n");
    let text = format!("{{{},\"entries\":[\n{lines}\n]}}\n", header(&b));
    let r = read(&w, &text);
    let f = r.failure.expect("refused");
    assert_eq!(f.check, Check::Format, "{f}");
    assert!(
        f.message
            .contains("bundle entry number 0 (from 0) is not an entry"),
        "{f}"
    );
    assert_eq!(r.entries, 0);
}

/// A value longer than any a server writes is refused once the reader has buffered that
/// much, not read to its end (which could be never).
#[test]
fn a_value_longer_than_any_entry_is_refused_without_reading_it_whole() {
    use std::io::Read;
    let w = world();
    let b = w.log.bundle();
    let limit = caseledger::bundle::read::MAX_VALUE;
    let start = format!("{{{},\"entries\":[\n{{\"index\":0,\"entry\":\"", header(&b));
    let endless = start.as_bytes().chain(std::io::repeat(b'a'));
    let mut reader = CountingReader {
        inner: endless,
        read: 0,
    };
    let r = verify_reader(&mut reader, &w.log.signer.verifier(), Options::default());
    let f = r.failure.expect("refused");
    assert_eq!(f.check, Check::Format, "{f}");
    assert!(
        f.message
            .contains(&format!("a value of more than {} MiB", limit >> 20)),
        "{f}"
    );
    assert!(
        reader.read <= limit as u64 + (4 << 20),
        "read {} bytes",
        reader.read
    );
}

struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Reads at most 7 bytes at a time, and is interrupted before every third read.
struct Trickle<'a> {
    text: &'a [u8],
    calls: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.text.len()).min(1 + self.calls % 7);
        buf[..n].copy_from_slice(&self.text[..n]);
        self.text = &self.text[n..];
        Ok(n)
    }
}

/// Three complete aligned chunks and a tail (over 8 MiB, read through several buffers): the
/// fast proof path (proofs compared as text with the chunk's own subtree) runs, checks every
/// signature, and still names a tampered entry, proof or signature exactly.
#[test]
fn the_aligned_chunk_fast_path_names_the_tampered_entry_or_proof() {
    let chunk = caseledger::verify::CHUNK;
    let mut w = world();
    w.grow_to(3 * chunk + 40);
    let good = w.log.bundle();
    let text = |b: &Bundle| layouts(b).swap_remove(0).1;
    let good_text = text(&good);
    assert!(good_text.len() > 8 << 20, "{} bytes", good_text.len());
    let r = read(&w, &good_text);
    assert!(r.ok, "{:?}", r.failure);
    let all = good.entries.len() as u64;
    assert_eq!((r.entries, r.signatures), (all, all));
    let trickle = Trickle {
        text: good_text.as_bytes(),
        calls: 0,
    };
    let r = verify_reader(trickle, &w.log.signer.verifier(), Options::default());
    assert!(r.ok, "short and interrupted reads: {:?}", r.failure);
    assert_eq!((r.entries, r.signatures), (all, all));
    // Each full chunk takes the reader's buffer with it: the reader goes on in another from
    // the bytes after the chunk's last entry, whether the next value is cut exactly, comes
    // on the same line, or is the header after the entries.
    for (name, text) in layouts(&good) {
        if matches!(name, "entries first" | "pretty" | "two per line") {
            let r = read(&w, &text);
            assert!(r.ok, "{name}: {:?}", r.failure);
            assert_eq!((r.entries, r.signatures), (all, all), "{name}");
        }
    }
    let refused = |b: &Bundle, victim: usize, what: &str| {
        let f = read(&w, &text(b))
            .failure
            .unwrap_or_else(|| panic!("{what} accepted"));
        assert_eq!(
            (f.index, f.check),
            (Some(victim as u64), Check::InclusionProof),
            "{what}: {f}"
        );
    };
    let mut b = good.clone();
    let e = &mut b.entries[chunk + 4];
    e.entry = e.entry.replacen(".000000Z", ".000001Z", 1);
    refused(&b, chunk + 4, "tampered entry");
    let mut b = good.clone();
    b.entries[5].proof.swap(0, 1);
    refused(&b, 5, "swapped proof hashes");
    // Base64 text of the same length that is not the canonical encoding of the hash.
    let mut b = good.clone();
    let top = b.entries[2 * chunk - 1].proof.last_mut().expect("proof");
    let new = if &top[42..43] == "A" { "B" } else { "A" };
    top.replace_range(42..43, new);
    refused(&b, 2 * chunk - 1, "altered top proof hash");
    // Printable text that is not base64 at all, first, inner and last in a proof.
    for (victim, at) in [(1, 0), (chunk + 7, 5), (3 * chunk - 1, usize::MAX)] {
        let mut b = good.clone();
        let proof = &mut b.entries[victim].proof;
        let at = at.min(proof.len() - 1);
        proof[at].replace_range(10..11, "!");
        refused(&b, victim, "a proof hash that is not base64");
    }

    // Two signatures that do not verify in the third chunk, and a gap in a stream's
    // revisions after both in the same chunk: the entry bytes are what the tree holds, so
    // only the signature check can find the first two. The replay meets the gap before the
    // chunk's signatures are all checked; the first failure in log order is reported all
    // the same. (Failures in several batches: `verify::signatures`' own tests.)
    let victim = 2 * chunk + 100;
    for forged in [victim + 1501, victim] {
        let entry = &mut w.log.entries[forged];
        let at = entry.find("\"sig\":\"").expect("sig") + 7;
        let new = if &entry[at..at + 1] == "A" { "B" } else { "A" };
        entry.replace_range(at..at + 1, new);
    }
    let gap = &mut w.log.entries[victim + 1550];
    let at = gap.find("\"revision\":").expect("revision") + 11;
    gap.insert(at, '9');
    let f = read(&w, &text(&w.log.bundle()))
        .failure
        .expect("forged signature accepted");
    assert_eq!(
        (f.index, f.check, f.stream.as_deref()),
        (
            Some(victim as u64),
            Check::Signature,
            Some("agency-bay-clinic")
        ),
        "{f}"
    );
}

#[test]
fn a_bundle_with_a_byte_order_mark_is_refused_naming_the_byte() {
    let w = world();
    let text = format!(
        "\u{FEFF}{}",
        serde_json::to_string(&w.log.bundle()).expect("json")
    );
    let r = read(&w, &text);
    let f = r.failure.expect("refused");
    assert_eq!(f.check, Check::Format);
    assert!(
        f.message
            .contains("found byte 0xEF (a UTF-8 byte order mark?)"),
        "{}",
        f.message
    );
    // A printable character is shown as itself.
    let r = read(&w, "[]");
    assert!(r.failure.expect("refused").message.contains("found `[`"));
}

#[test]
fn identity_heads_are_read_wherever_the_member_stands() {
    use caseledger::bundle::heads::IdentityHeads;
    let mut w = world();
    let case = "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";
    let opened = serde_json::json!({
        "owner_agency": "harbor-house", "coordinator": "maria",
        "needs": ["medical"], "minor": false
    });
    let case_end = w.log.append(&w.worker, "case.opened", case, opened);
    w.grow_to(w.log.entries.len() + 2);
    // A partial bundle: everything up to the case's entry, heads below its index + 1.
    let part: Vec<u64> = (0..=case_end).collect();
    let b = w.log.bundle_of(&part);
    let cp = caseledger::log::Checkpoint::open_signed(&b.checkpoint, &w.log.signer.verifier())
        .expect("checkpoint");
    let mut counts = std::collections::BTreeMap::new();
    for e in &b.entries {
        let v: serde_json::Value = serde_json::from_str(&e.entry).expect("entry");
        let stream = v["stream"].as_str().expect("stream");
        if stream != case {
            *counts.entry(stream.to_owned()).or_insert(0) += 1;
        }
    }
    let heads = |counts| {
        let h = IdentityHeads {
            origin: cp.origin.clone(),
            size: cp.size,
            root: cp.root,
            before: part.len() as u64,
            case: case["case-".len()..].parse().expect("a case id"),
            case_entries: 1,
            counts,
        };
        serde_json::to_string(&h.sign(&w.log.signer).expect("signed")).expect("json")
    };
    let entries: Vec<String> = b.entries.iter().map(entry).collect();
    let entries = format!("\"entries\":[{}]", entries.join(",\n"));
    let mut short = counts.clone();
    *short.get_mut("agency-bay-clinic").expect("stream") += 1;
    for (good, h) in [(true, heads(counts)), (false, heads(short))] {
        let member = format!("\"identity_heads\":{h}");
        for text in [
            format!("{{{},{member},{entries}}}", header(&b)),
            format!("{{{},{entries},{member}}}", header(&b)),
            format!("{{{member},{entries},{}}}", header(&b)),
        ] {
            let r = read(&w, &text);
            match good {
                true => {
                    assert!(r.ok, "{:?}", r.failure);
                    assert_eq!(r.identity_heads_before, Some(part.len() as u64));
                }
                false => {
                    let f = r.failure.expect("refused");
                    assert_eq!(f.check, Check::IdentityHeads, "{f}");
                }
            }
        }
    }
}
