// An independent client of caseledger's log API, written against Go's
// golang.org/x/mod/sumdb packages (Russ Cox's reference code for signed notes and tiled
// transparency logs, which C2SP's signed-note and tlog-tiles specify). Run by
// tests/api/interop_go.rs:
//
//	go run tlog_check.go <base URL> <auditor token> <log verifier key> [<cosigned checkpoint file>]
//
// It exits non-zero, naming what differs, unless:
//   - the checkpoint at /v1/log/checkpoint opens under the log key with note.Open;
//   - the cosigned checkpoint file, if given, opens too: a note parser that does not know
//     witnesses (cosignature/v1 keys) reads their lines as signatures it cannot verify;
//   - tlog.TileHashReader, which checks every hash tile it reads against the signed root,
//     recomputes that root from the server's hash tiles;
//   - inclusion and consistency proofs that tlog builds from the tiles check with
//     tlog.CheckRecord / tlog.CheckTree and equal the server's own proofs;
//   - every entry in every entry bundle hashes (tlog.RecordHash) to its leaf in the tiles,
//     and equals the entry /v1/log/entries serves at that index.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var base, token string

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAILED: "+format+"\n", args...)
	os.Exit(1)
}

func get(path string) []byte {
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		fail("%s: %v", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// Go's transport asks for gzip and decompresses: the entry bundles' compression is
	// read back by a client that is not ours.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("%s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fail("%s: status %d, %v: %s", path, resp.StatusCode, err, b)
	}
	return b
}

// tiles serves tlog's tile reads from the server, counting them.
type tiles struct{ fetched int }

func (r *tiles) Height() int { return 8 }

func (r *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		// Go spells tile/8/L/NNN[.p/W]; C2SP leaves out the height: tile/L/NNN[.p/W].
		out[i] = get("/v1/log/" + strings.Replace(t.Path(), "tile/8/", "tile/", 1))
		r.fetched++
	}
	return out, nil
}

func (r *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func serverProof(path string) []tlog.Hash {
	var v struct{ Hashes []string }
	if err := json.Unmarshal(get(path), &v); err != nil {
		fail("%s: %v", path, err)
	}
	out := make([]tlog.Hash, len(v.Hashes))
	for i, h := range v.Hashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			fail("%s: hash %d is not 32 bytes of base64", path, i)
		}
		copy(out[i][:], b)
	}
	return out
}

func same(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkpoint opens the signed checkpoint with the log key and returns its tree.
func checkpoint(logKey string) tlog.Tree {
	verifier, err := note.NewVerifier(logKey)
	if err != nil {
		fail("log key %q: %v", logKey, err)
	}
	text := get("/v1/log/checkpoint")
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint does not open under the log key: %v\n%s", err, text)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		fail("checkpoint body %q: want origin %q, size, root", n.Text, verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || err2 != nil || len(root) != tlog.HashSize || size < 1 {
		fail("checkpoint body %q", n.Text)
	}
	tree := tlog.Tree{N: size}
	copy(tree.Hash[:], root)
	return tree
}

// cosigned opens a checkpoint carrying witnesses' cosignature lines under the log key
// alone, and names the lines it could not verify.
func cosigned(logKey, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		fail("%s: %v", path, err)
	}
	verifier, err := note.NewVerifier(logKey)
	if err != nil {
		fail("log key %q: %v", logKey, err)
	}
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("the cosigned checkpoint does not open under the log key: %v\n%s", err, text)
	}
	names := []string{}
	for _, sig := range n.UnverifiedSigs {
		names = append(names, sig.Name)
	}
	fmt.Printf("cosigned checkpoint opens under the log key (%d verified); unverified: %s\n",
		len(n.Sigs), strings.Join(names, ", "))
}

func main() {
	if len(os.Args) != 4 && len(os.Args) != 5 {
		fail("usage: tlog_check <base URL> <auditor token> <log verifier key> [<cosigned checkpoint file>]")
	}
	base, token = os.Args[1], os.Args[2]
	tree := checkpoint(os.Args[3])
	size, root := tree.N, tree.Hash
	fmt.Printf("checkpoint of size %d opens under the log key\n", size)
	if len(os.Args) == 5 {
		cosigned(os.Args[3], os.Args[4])
	}

	r := &tiles{}
	hr := tlog.TileHashReader(tree, r)
	if got, err := tlog.TreeHash(size, hr); err != nil || got != root {
		fail("tree hash from the tiles: %v, %v; want the signed root %v", got, err, root)
	}

	proofs := 0
	for _, i := range []int64{0, 1, 255, 256, 257, 65535, 65536, size / 2, size - 2, size - 1} {
		if i < 0 || i >= size {
			continue
		}
		p, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			fail("record proof %d from tiles: %v", i, err)
		}
		entry := bytes.TrimSuffix(get(fmt.Sprintf("/v1/log/entries?start=%d&limit=1", i)), []byte("\n"))
		if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(entry)); err != nil {
			fail("entry %d with the proof from tiles: %v", i, err)
		}
		if !same(p, serverProof(fmt.Sprintf("/v1/log/proof/inclusion?index=%d&size=%d", i, size))) {
			fail("inclusion proof of %d in %d differs from the server's", i, size)
		}
		proofs++
	}
	for _, old := range []int64{1, 2, 7, 256, 300, 65536, 65537, size - 1} {
		if old < 1 || old >= size {
			continue
		}
		p, err := tlog.ProveTree(size, old, hr)
		if err != nil {
			fail("tree proof %d..%d from tiles: %v", old, size, err)
		}
		oldRoot, err := tlog.TreeHash(old, hr)
		if err != nil {
			fail("tree hash at %d: %v", old, err)
		}
		if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
			fail("tree proof %d..%d: %v", old, size, err)
		}
		if !same(p, serverProof(fmt.Sprintf("/v1/log/proof/consistency?from=%d&to=%d", old, size))) {
			fail("consistency proof %d..%d differs from the server's", old, size)
		}
		proofs++
	}

	// Every entry bundle, against the leaves in the tiles and the entries endpoint.
	bundles := int64(0)
	for n := int64(0); n*256 < size; n++ {
		w := size - n*256
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: 8, L: 0, N: n, W: int(w)}
		b := get("/v1/log/tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/0/"))
		page := bufio.NewScanner(bytes.NewReader(get(fmt.Sprintf("/v1/log/entries?start=%d&limit=%d", n*256, w))))
		page.Buffer(make([]byte, 1<<20), 1<<20)
		// One read of the bundle's leaves: tlog checks the tiles it reads against the root.
		indexes := make([]int64, w)
		for k := range indexes {
			indexes[k] = tlog.StoredHashIndex(0, n*256+int64(k))
		}
		leaves, err := hr.ReadHashes(indexes)
		if err != nil {
			fail("leaves of entry bundle %d: %v", n, err)
		}
		for k := int64(0); k < w; k++ {
			i := n*256 + k
			if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
				fail("entry bundle %d ends inside entry %d", n, i)
			}
			e := b[2 : 2+int(binary.BigEndian.Uint16(b))]
			b = b[2+len(e):]
			if leaves[k] != tlog.RecordHash(e) {
				fail("entry %d in its bundle does not hash to its leaf", i)
			}
			if !page.Scan() || !bytes.Equal(page.Bytes(), e) {
				fail("entry %d in its bundle differs from /v1/log/entries", i)
			}
		}
		if len(b) != 0 {
			fail("entry bundle %d has %d bytes past its %d entries", n, len(b), w)
		}
		bundles++
	}
	fmt.Printf("%d proofs from tiles check and equal the server's; %d entry bundles hash to the tiles; %d tiles read\n",
		proofs, bundles, r.fetched)
}
