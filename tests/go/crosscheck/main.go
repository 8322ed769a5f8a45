// Command crosscheck verifies the Privacy Ledger's transparency-log output with Go's reference
// implementations, golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, and signs a note
// with a Go-generated key for the reverse check. With a "ledger" request it checks what a real ledger
// issued through its command line: checkpoints, tlog-proof files and consistency proofs. It reads one JSON request on stdin and writes one
// JSON report on stdout; the Python test (tests/integration/test_log_go_crosscheck.py) judges it.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// storedNode is one complete-subtree hash as the Python frontier returned it on append.
type storedNode struct {
	Level int    `json:"level"`
	Index int64  `json:"index"`
	Hash  []byte `json:"hash"`
}

type inclusionCase struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Proof    [][]byte `json:"proof"`
	Root     []byte   `json:"root"`
}

type consistencyCase struct {
	Size1 int64    `json:"size1"`
	Size2 int64    `json:"size2"`
	Proof [][]byte `json:"proof"`
	Root1 []byte   `json:"root1"`
	Root2 []byte   `json:"root2"`
}

type request struct {
	Ledger      *ledgerRequest    `json:"ledger"`
	VerifierKey string            `json:"vkey"`
	SignerKey   string            `json:"skey"`
	Checkpoint  string            `json:"checkpoint"`
	Tampered    []string          `json:"tampered_checkpoints"`
	Leaves      [][]byte          `json:"leaves"`
	Appends     [][]storedNode    `json:"appends"`
	Inclusion   []inclusionCase   `json:"inclusion"`
	Consistency []consistencyCase `json:"consistency"`
	GoKeyName   string            `json:"go_key_name"`
	TextToSign  string            `json:"text_to_sign"`
}

type verdict struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error,omitempty"`
	GoProof [][]byte `json:"go_proof"`
}

type report struct {
	CheckpointText   string    `json:"checkpoint_text"`
	CheckpointError  string    `json:"checkpoint_error,omitempty"`
	CheckpointOrigin string    `json:"checkpoint_origin"`
	CheckpointSize   int64     `json:"checkpoint_size"`
	CheckpointRoot   []byte    `json:"checkpoint_root"`
	TamperedErrors   []string  `json:"tampered_errors"`
	AppendMismatches []string  `json:"append_mismatches"`
	TreeHashes       [][]byte  `json:"tree_hashes"`
	Inclusion        []verdict `json:"inclusion"`
	Consistency      []verdict `json:"consistency"`
	SignedWithPyKey  string    `json:"signed_with_python_key"`
	GoSignerKey      string    `json:"go_skey"`
	GoVerifierKey    string    `json:"go_vkey"`
	SignedWithGoKey  string    `json:"signed_with_go_key"`
}

// hashStore serves tlog's stored-hash indexes from the hashes Python produced.
type hashStore map[int64]tlog.Hash

func (s hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, index := range indexes {
		h, ok := s[index]
		if !ok {
			level, n := tlog.SplitStoredHashIndex(index)
			return nil, fmt.Errorf("stored hash (%d, %d) missing", level, n)
		}
		out[i] = h
	}
	return out, nil
}

func toHash(b []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("hash of %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}

func toHashes(list [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, b := range list {
		h, err := toHash(b)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func toBytes(list []tlog.Hash) [][]byte {
	out := make([][]byte, len(list))
	for i, h := range list {
		out[i] = append([]byte(nil), h[:]...)
	}
	return out
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// openCheckpoint verifies a signed checkpoint note and parses its first three lines.
func openCheckpoint(msg string, verifiers note.Verifiers) (*note.Note, string, int64, []byte, error) {
	n, err := note.Open([]byte(msg), verifiers)
	if err != nil {
		return nil, "", 0, nil, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return nil, "", 0, nil, fmt.Errorf("checkpoint has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return nil, "", 0, nil, err
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		return nil, "", 0, nil, err
	}
	return n, lines[0], size, root, nil
}

// checkAppends recomputes, with tlog, the stored hashes each record adds and compares them (values
// and storage positions) with what the Python frontier returned for that append.
func checkAppends(req request, store hashStore) []string {
	var mismatches []string
	own := hashStore{}
	for i, data := range req.Leaves {
		want, err := tlog.StoredHashes(int64(i), data, own)
		if err != nil {
			return append(mismatches, fmt.Sprintf("record %d: %v", i, err))
		}
		first := tlog.StoredHashCount(int64(i))
		for j, h := range want {
			own[first+int64(j)] = h
		}
		got := req.Appends[i]
		if len(got) != len(want) {
			mismatches = append(mismatches, fmt.Sprintf("record %d: %d hashes, tlog stores %d", i, len(got), len(want)))
			continue
		}
		for j, node := range got {
			if tlog.StoredHashIndex(node.Level, node.Index) != first+int64(j) {
				mismatches = append(mismatches, fmt.Sprintf("record %d: node (%d, %d) out of tlog order", i, node.Level, node.Index))
			}
			if !bytes.Equal(node.Hash, want[j][:]) {
				mismatches = append(mismatches, fmt.Sprintf("record %d: node (%d, %d) hash differs", i, node.Level, node.Index))
			}
		}
	}
	return mismatches
}

func run(req request) (report, error) {
	var rep report
	verifier, err := note.NewVerifier(req.VerifierKey)
	if err != nil {
		return rep, fmt.Errorf("python verifier key: %w", err)
	}
	known := note.VerifierList(verifier)

	n, origin, size, root, err := openCheckpoint(req.Checkpoint, known)
	rep.CheckpointError = errorText(err)
	if n != nil {
		rep.CheckpointText, rep.CheckpointOrigin, rep.CheckpointSize, rep.CheckpointRoot = n.Text, origin, size, root
	}
	for _, tampered := range req.Tampered {
		_, _, _, _, err := openCheckpoint(tampered, known)
		rep.TamperedErrors = append(rep.TamperedErrors, errorText(err))
	}

	store := hashStore{}
	for _, nodes := range req.Appends {
		for _, node := range nodes {
			h, err := toHash(node.Hash)
			if err != nil {
				return rep, err
			}
			store[tlog.StoredHashIndex(node.Level, node.Index)] = h
		}
	}
	rep.AppendMismatches = checkAppends(req, store)
	if rep.AppendMismatches == nil {
		rep.AppendMismatches = []string{}
	}

	for size := int64(1); size <= int64(len(req.Appends)); size++ {
		h, err := tlog.TreeHash(size, store)
		if err != nil {
			return rep, err
		}
		rep.TreeHashes = append(rep.TreeHashes, h[:])
	}

	for _, c := range req.Inclusion {
		v := verdict{}
		proof, err1 := toHashes(c.Proof)
		leaf, err2 := toHash(c.LeafHash)
		root, err3 := toHash(c.Root)
		if err := firstError(err1, err2, err3); err != nil {
			v.Error = err.Error()
		} else {
			err := tlog.CheckRecord(proof, c.Size, root, c.Index, leaf)
			v.OK, v.Error = err == nil, errorText(err)
		}
		if goProof, err := tlog.ProveRecord(c.Size, c.Index, store); err == nil {
			v.GoProof = toBytes(goProof)
		}
		rep.Inclusion = append(rep.Inclusion, v)
	}

	for _, c := range req.Consistency {
		v := verdict{}
		proof, err1 := toHashes(c.Proof)
		root1, err2 := toHash(c.Root1)
		root2, err3 := toHash(c.Root2)
		if err := firstError(err1, err2, err3); err != nil {
			v.Error = err.Error()
		} else {
			err := tlog.CheckTree(proof, c.Size2, root2, c.Size1, root1)
			v.OK, v.Error = err == nil, errorText(err)
		}
		if goProof, err := tlog.ProveTree(c.Size2, c.Size1, store); err == nil {
			v.GoProof = toBytes(goProof)
		}
		rep.Consistency = append(rep.Consistency, v)
	}

	// The reverse direction: Go signs with the Python-made signer key and with a key of its own.
	pySigner, err := note.NewSigner(req.SignerKey)
	if err != nil {
		return rep, fmt.Errorf("python signer key: %w", err)
	}
	signed, err := note.Sign(&note.Note{Text: req.TextToSign}, pySigner)
	if err != nil {
		return rep, err
	}
	rep.SignedWithPyKey = string(signed)

	skey, vkey, err := note.GenerateKey(rand.Reader, req.GoKeyName)
	if err != nil {
		return rep, err
	}
	goSigner, err := note.NewSigner(skey)
	if err != nil {
		return rep, err
	}
	signed, err = note.Sign(&note.Note{Text: req.TextToSign}, goSigner)
	if err != nil {
		return rep, err
	}
	rep.GoSignerKey, rep.GoVerifierKey, rep.SignedWithGoKey = skey, vkey, string(signed)
	return rep, nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "crosscheck: bad request:", err)
		os.Exit(2)
	}
	if req.Ledger != nil {
		rep, err := runLedger(*req.Ledger)
		if err != nil {
			fmt.Fprintln(os.Stderr, "crosscheck:", err)
			os.Exit(1)
		}
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "crosscheck:", err)
			os.Exit(1)
		}
		return
	}
	rep, err := run(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crosscheck:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "crosscheck:", err)
		os.Exit(1)
	}
}

// ledgerRequest is what a real ledger produced through its command line: the checkpoints it signed,
// the leaf bytes of its records (read from its database), tlog-proof files and consistency proofs.
type ledgerRequest struct {
	VerifierKey string              `json:"vkey"`
	Checkpoints []string            `json:"checkpoints"`
	Leaves      [][]byte            `json:"leaves"`
	TlogProofs  []ledgerTlogProof   `json:"tlog_proofs"`
	Consistency []ledgerConsistency `json:"consistency"`
}

type ledgerTlogProof struct {
	Text string `json:"text"`
	Seq  int64  `json:"seq"`
}

type ledgerConsistency struct {
	Old   string   `json:"old"`
	New   string   `json:"new"`
	Proof [][]byte `json:"proof"`
}

type ledgerReport struct {
	Checkpoints []verdict `json:"checkpoints"`
	TlogProofs  []verdict `json:"tlog_proofs"`
	Consistency []verdict `json:"consistency"`
}

// parseTlogProof reads a c2sp.org/tlog-proof@v1 text: header, optional extra, index, hashes, an empty
// line, then the signed checkpoint note verbatim.
func parseTlogProof(text string) (int64, []tlog.Hash, string, error) {
	lines := strings.SplitAfter(text, "\n")
	next := func() (string, error) {
		if len(lines) == 0 || !strings.HasSuffix(lines[0], "\n") {
			return "", fmt.Errorf("tlog-proof is truncated")
		}
		line := strings.TrimSuffix(lines[0], "\n")
		lines = lines[1:]
		return line, nil
	}
	line, err := next()
	if err != nil || line != "c2sp.org/tlog-proof@v1" {
		return 0, nil, "", fmt.Errorf("not a tlog-proof@v1")
	}
	if line, err = next(); err != nil {
		return 0, nil, "", err
	}
	if strings.HasPrefix(line, "extra ") {
		if line, err = next(); err != nil {
			return 0, nil, "", err
		}
	}
	if !strings.HasPrefix(line, "index ") {
		return 0, nil, "", fmt.Errorf("no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(line, "index "), 10, 64)
	if err != nil {
		return 0, nil, "", err
	}
	var proof []tlog.Hash
	for {
		if line, err = next(); err != nil {
			return 0, nil, "", err
		}
		if line == "" {
			break
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return 0, nil, "", err
		}
		h, err := toHash(raw)
		if err != nil {
			return 0, nil, "", err
		}
		proof = append(proof, h)
	}
	return index, proof, strings.Join(lines, ""), nil
}

func runLedger(req ledgerRequest) (ledgerReport, error) {
	var rep ledgerReport
	verifier, err := note.NewVerifier(req.VerifierKey)
	if err != nil {
		return rep, fmt.Errorf("ledger verifier key: %w", err)
	}
	known := note.VerifierList(verifier)
	// The tree as tlog builds it from the ledger's leaf bytes, independently of the ledger's own hashes.
	own := hashStore{}
	for i, data := range req.Leaves {
		hashes, err := tlog.StoredHashes(int64(i), data, own)
		if err != nil {
			return rep, err
		}
		first := tlog.StoredHashCount(int64(i))
		for j, h := range hashes {
			own[first+int64(j)] = h
		}
	}
	open := func(msg string) (int64, tlog.Hash, error) {
		_, _, size, root, err := openCheckpoint(msg, known)
		if err != nil {
			return 0, tlog.Hash{}, err
		}
		h, err := toHash(root)
		return size, h, err
	}
	for _, msg := range req.Checkpoints {
		v := verdict{}
		size, root, err := open(msg)
		if err == nil {
			var th tlog.Hash
			th, err = tlog.TreeHash(size, own)
			if err == nil && th != root {
				err = fmt.Errorf("tlog's tree hash of the ledger's %d leaves differs from the checkpoint root", size)
			}
		}
		v.OK, v.Error = err == nil, errorText(err)
		rep.Checkpoints = append(rep.Checkpoints, v)
	}
	for _, p := range req.TlogProofs {
		v := verdict{}
		index, proof, msg, err := parseTlogProof(p.Text)
		if err == nil && index != p.Seq-1 {
			err = fmt.Errorf("index %d is not leaf %d", index, p.Seq-1)
		}
		var size int64
		var root tlog.Hash
		if err == nil {
			size, root, err = open(msg)
		}
		if err == nil && (index < 0 || index >= int64(len(req.Leaves))) {
			err = fmt.Errorf("no leaf %d", index)
		}
		if err == nil {
			err = tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(req.Leaves[index]))
		}
		v.OK, v.Error = err == nil, errorText(err)
		rep.TlogProofs = append(rep.TlogProofs, v)
	}
	for _, c := range req.Consistency {
		v := verdict{}
		oldSize, oldRoot, err := open(c.Old)
		var newSize int64
		var newRoot tlog.Hash
		if err == nil {
			newSize, newRoot, err = open(c.New)
		}
		var proof []tlog.Hash
		if err == nil {
			proof, err = toHashes(c.Proof)
		}
		if err == nil {
			err = tlog.CheckTree(proof, newSize, newRoot, oldSize, oldRoot)
		}
		v.OK, v.Error = err == nil, errorText(err)
		rep.Consistency = append(rep.Consistency, v)
	}
	return rep, nil
}
