package sr25519_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ChainSafe/go-schnorrkel"
	"github.com/coffer-dev/coffer/internal/sr25519"
)

// Verify does its own group arithmetic; these tests hold it to
// go-schnorrkel's verification (OracleVerify), which it replaced.

// groupOrder is ℓ, the order of ristretto255.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// fieldPrime is p = 2^255 - 19.
var fieldPrime = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

func leToInt(b []byte) *big.Int {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(r)
}

// intToLE32 returns n as 32 little-endian bytes (n < 2^256).
func intToLE32(n *big.Int) []byte {
	b := make([]byte, 32)
	n.FillBytes(b)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// withS returns sig with s replaced by n, marked as schnorrkel.
func withS(sig sr25519.Signature, n *big.Int) sr25519.Signature {
	copy(sig[32:], intToLE32(n))
	sig[63] |= 0x80
	return sig
}

// withR returns sig with R replaced by b.
func withR(sig sr25519.Signature, b []byte) sr25519.Signature {
	copy(sig[:32], b)
	return sig
}

func sOf(sig sr25519.Signature) *big.Int {
	s := sig[32:]
	b := bytes.Clone(s)
	b[31] &= 0x7f
	return leToInt(b)
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// differential runs Verify and the oracle on one case and counts.
type differential struct {
	t                  *testing.T
	accepted, rejected int
	fresh              int
}

// check fails unless Verify and the oracle agree, and agree with want
// when it is "true" or "false" ("" when the outcome is not known).
func (d *differential) check(name string, key *sr25519.PublicKey, msg []byte, sig sr25519.Signature, want string) {
	d.t.Helper()
	got := key.Verify(msg, sig)
	oracle := sr25519.OracleVerify(key, msg, sig)
	pub := key.Bytes()
	if got != oracle {
		d.t.Fatalf("%s: Verify %v, go-schnorrkel %v\nkey %x\nmsg %q\nsig %x", name, got, oracle, pub, msg, sig)
	}
	if want != "" && fmt.Sprint(got) != want {
		d.t.Fatalf("%s: both verifiers say %v, want %s\nkey %x\nmsg %q\nsig %x", name, got, want, pub, msg, sig)
	}
	// Every eighth case again on a PublicKey just made from the bytes.
	if d.fresh++; d.fresh%8 == 0 {
		k2, err := sr25519.NewPublicKey(pub)
		if err != nil {
			d.t.Fatal(err)
		}
		if k2.Verify(msg, sig) != got {
			d.t.Fatalf("%s: a new PublicKey for the same key says %v", name, !got)
		}
	}
	if got {
		d.accepted++
	} else {
		d.rejected++
	}
}

// TestVerifyAgainstSchnorrkel signs random messages with random keys
// (deterministic seeds; the signatures are randomised by go-schnorrkel)
// and checks that Verify and go-schnorrkel give the same result on the
// signatures and on every kind of tampering with them.
func TestVerifyAgainstSchnorrkel(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'s', 'r', '2', '5', '5', '1', '9'}))
	nKeys := 1000
	if testing.Short() || raceEnabled {
		nKeys = 100
	}
	d := &differential{t: t}
	keys := make([]*sr25519.PrivateKey, nKeys)
	for i := range keys {
		k, err := sr25519.NewPrivateKeyFromSeed([sr25519.SeedSize]byte(randomBytes(rng, sr25519.SeedSize)))
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	var prevR []byte // a valid R of another signature
	for i, priv := range keys {
		pub, other := priv.Public(), keys[(i+1)%len(keys)].Public()
		var msg []byte
		switch i % 3 {
		case 0: // a Chutes request's message
			msg = fmt.Appendf(nil, "%s:%d:%x", pub.Address(42), 1764000000+rng.IntN(1000000), randomBytes(rng, 32))
		case 1:
			msg = randomBytes(rng, rng.IntN(300))
		case 2:
			msg = randomBytes(rng, rng.IntN(4))
		}
		wrapped := []byte("<Bytes>" + string(msg) + "</Bytes>")
		sig, err := priv.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		wsig, err := priv.Sign(wrapped)
		if err != nil {
			t.Fatal(err)
		}
		s := sOf(sig)

		d.check("signature", pub, msg, sig, "true")
		d.check("wrapped signature, plain message", pub, msg, wsig, "true")
		d.check("wrapped signature, wrapped message", pub, wrapped, wsig, "true")
		d.check("plain signature, wrapped message", pub, wrapped, sig, "false")
		d.check("wrong key", other, msg, sig, "false")
		d.check("wrong key, wrapped", other, msg, wsig, "false")

		// The message.
		if len(msg) > 0 {
			m := bytes.Clone(msg)
			m[rng.IntN(len(m))] ^= 1 << rng.IntN(8)
			d.check("message bit flipped", pub, m, sig, "false")
			d.check("message bit flipped, wrapped", pub, m, wsig, "false")
			d.check("message truncated", pub, msg[:len(msg)-1], sig, "false")
		}
		d.check("message extended", pub, append(bytes.Clone(msg), 0), sig, "false")
		d.check("message doubly wrapped", pub, []byte("<Bytes>"+string(wrapped)+"</Bytes>"), wsig, "false")

		// R.
		r := sig
		r[rng.IntN(32)] ^= 1 << rng.IntN(8)
		d.check("R bit flipped", pub, msg, r, "false")
		r = sig
		r[31] ^= 0x80
		d.check("R top bit set", pub, msg, r, "false")
		R := leToInt(sig[:32])
		d.check("R + p", pub, msg, withR(sig, intToLE32(new(big.Int).Add(R, fieldPrime))), "false")
		if R.Sign() != 0 {
			d.check("R negated (p - R)", pub, msg, withR(sig, intToLE32(new(big.Int).Sub(fieldPrime, R))), "false")
		}
		d.check("R the identity", pub, msg, withR(sig, make([]byte, 32)), "false")
		if prevR != nil {
			d.check("R of another signature", pub, msg, withR(sig, prevR), "false")
		}
		d.check("R of the wrapped signature", pub, msg, withR(sig, wsig[:32]), "false")
		prevR = bytes.Clone(sig[:32])

		// s.
		r = sig
		r[32+rng.IntN(31)] ^= 1 << rng.IntN(8)
		d.check("s bit flipped", pub, msg, r, "false")
		r = sig
		r[63] ^= 1 << rng.IntN(7)
		d.check("s bit flipped in the last byte", pub, msg, r, "false")
		d.check("marker cleared", pub, msg, flip(sig, 63, 0x80), "false")
		d.check("marker cleared, wrapped", pub, msg, flip(wsig, 63, 0x80), "false")
		d.check("s + ℓ", pub, msg, withS(sig, new(big.Int).Add(s, groupOrder)), "false")
		d.check("s + 2^253", pub, msg, withS(sig, new(big.Int).SetBit(s, 253, 1)), "false")
		d.check("s + 2^254", pub, msg, withS(sig, new(big.Int).SetBit(s, 254, 1)), "false")
		d.check("s + 2ℓ", pub, msg, withS(sig, new(big.Int).Add(s, new(big.Int).Lsh(groupOrder, 1))), "false")
		d.check("s = ℓ", pub, msg, withS(sig, groupOrder), "false")
		d.check("s = ℓ - 1", pub, msg, withS(sig, new(big.Int).Sub(groupOrder, big.NewInt(1))), "false")
		d.check("s = 0", pub, msg, withS(sig, new(big.Int)), "false")
		d.check("s of the wrapped signature", pub, msg, withS(sig, sOf(wsig)), "false")

		// Whole signatures.
		var zero sr25519.Signature
		d.check("zero signature", pub, msg, zero, "false")
		d.check("zero signature, marked", pub, msg, flip(zero, 63, 0x80), "false")
		rs := sr25519.Signature(randomBytes(rng, 64))
		rs[63] |= 0x80
		d.check("random signature, marked", pub, msg, rs, "false")
		d.check("all ones", pub, msg, sr25519.Signature(bytes.Repeat([]byte{0xff}, 64)), "false")

		// The key: a flipped bit gives another key or none, the same for
		// NewPublicKey and go-schnorrkel (which also takes the identity,
		// that NewPublicKey refuses).
		kb := pub.Bytes()
		kb[rng.IntN(32)] ^= 1 << rng.IntN(8)
		checkKey(t, d, kb, msg, sig)
		if i%10 == 0 {
			checkKey(t, d, [32]byte(randomBytes(rng, 32)), msg, sig)
		}
	}
	t.Logf("%d keys: %d cases accepted, %d rejected", nKeys, d.accepted, d.rejected)
	if d.accepted < 3*nKeys || d.rejected < 20*nKeys {
		t.Errorf("accepted %d, rejected %d: fewer than the cases that must be", d.accepted, d.rejected)
	}
}

// checkKey checks that NewPublicKey takes kb when go-schnorrkel does (and
// kb is not the identity) and that both then verify alike.
func checkKey(t *testing.T, d *differential, kb [32]byte, msg []byte, sig sr25519.Signature) {
	t.Helper()
	k, err := sr25519.NewPublicKey(kb)
	sk, serr := schnorrkel.NewPublicKey(kb)
	if (err == nil) != (serr == nil && kb != [32]byte{}) {
		t.Fatalf("key %x: NewPublicKey %v, go-schnorrkel %v", kb, err, serr)
	}
	if err != nil {
		if serr == nil && sr25519.OracleVerifyKey(sk, msg, sig) {
			t.Fatalf("key %x, refused, verifies with go-schnorrkel", kb)
		}
		return
	}
	d.check("another key", k, msg, sig, "false")
}

// TestNewPublicKeyAgainstSchnorrkel checks that NewPublicKey takes the
// keys go-schnorrkel takes, but the identity.
func TestNewPublicKeyAgainstSchnorrkel(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'k', 'e', 'y'}))
	taken := 0
	for i := range 5000 {
		kb := [32]byte(randomBytes(rng, 32))
		if i%2 == 0 {
			kb[31] &= 0x7f
			kb[0] &^= 1 // a non-negative field element, more often a key
		}
		_, err := sr25519.NewPublicKey(kb)
		_, serr := schnorrkel.NewPublicKey(kb)
		if (err == nil) != (serr == nil) {
			t.Fatalf("key %x: NewPublicKey %v, go-schnorrkel %v", kb, err, serr)
		}
		if err == nil {
			taken++
		}
	}
	if taken == 0 || taken == 5000 {
		t.Fatalf("%d of 5000 random keys taken", taken)
	}
	if _, err := sr25519.NewPublicKey([32]byte{}); err == nil {
		t.Error("the identity is taken")
	}
}

// FuzzVerify checks that Verify and go-schnorrkel agree on any message and
// signature for a fixed key. Inputs of another length than 64 bytes are
// cut or padded with zeros.
func FuzzVerify(f *testing.F) {
	vf := loadVectors(&testing.T{}, vectorFiles[1])
	for _, v := range vf.Vectors {
		for _, h := range []string{v.SignatureHex, v.WrappedSignatureHex} {
			sig, _ := hex.DecodeString(h)
			f.Add([]byte(v.Message), sig)
			f.Add([]byte(v.WrappedMessage), sig)
			unmarked := flip(sr25519.Signature(sig), 63, 0x80)
			f.Add([]byte(v.Message), unmarked[:])
		}
	}
	k, _, err := sr25519.ParseAddress(vf.Hotkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg, b []byte) {
		var sig sr25519.Signature
		copy(sig[:], b)
		got, want := k.Verify(msg, sig), sr25519.OracleVerify(k, msg, sig)
		if got != want {
			t.Fatalf("msg %q sig %x: Verify %v, go-schnorrkel %v", msg, sig, got, want)
		}
	})
}

// TestFuzzVerifyCorpus checks the committed corpus of FuzzVerify, cases
// made with the fixed key's seed: those named valid-* verify, the others
// do not.
func TestFuzzVerifyCorpus(t *testing.T) {
	vf := loadVectors(t, vectorFiles[1])
	k, _, err := sr25519.ParseAddress(vf.Hotkey)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/fuzz/FuzzVerify/*")
	if err != nil || len(files) < 5 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	valid := 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a corpus file of two values", path)
		}
		var args [2][]byte
		for i, l := range lines[1:] {
			q, ok := strings.CutPrefix(l, "[]byte(")
			q, ok2 := strings.CutSuffix(q, ")")
			u, err := strconv.Unquote(q)
			if !ok || !ok2 || err != nil {
				t.Fatalf("%s: line %d: %q", path, i+2, l)
			}
			args[i] = []byte(u)
		}
		if len(args[1]) != sr25519.SignatureSize {
			t.Fatalf("%s: a signature of %d bytes", path, len(args[1]))
		}
		want := strings.HasPrefix(filepath.Base(path), "valid-")
		if want {
			valid++
		}
		if got := k.Verify(args[0], sr25519.Signature(args[1])); got != want {
			t.Errorf("%s: Verify %v, want %v", path, got, want)
		}
	}
	if valid == 0 || valid == len(files) {
		t.Errorf("%d of %d corpus cases valid", valid, len(files))
	}
}

// Benchmarks of Verify beside go-schnorrkel's (the oracle, with its key
// decoded once, as Verify used it): a key verifying again (BenchmarkVerify
// in sr25519_test.go), the wrapped form (which verifies twice), a key
// parsed anew, as the service does when its cached registration expires,
// and a key never seen (its tables built).

func benchInputs(b *testing.B) (*sr25519.PublicKey, []byte, sr25519.Signature, sr25519.Signature) {
	vf := loadVectors(&testing.T{}, vectorFiles[1])
	k, _, err := sr25519.ParseAddress(vf.Hotkey)
	if err != nil {
		b.Fatal(err)
	}
	v := vf.Vectors[0]
	return k, []byte(v.Message), mustSig(&testing.T{}, v.SignatureHex), mustSig(&testing.T{}, v.WrappedSignatureHex)
}

func oracleKey(b *testing.B, k *sr25519.PublicKey) *schnorrkel.PublicKey {
	pk, err := schnorrkel.NewPublicKey(k.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	pk.Encode()
	return pk
}

func BenchmarkVerifyOracle(b *testing.B) {
	k, msg, sig, _ := benchInputs(b)
	pk := oracleKey(b, k)
	b.ReportAllocs()
	for range b.N {
		if !sr25519.OracleVerifyKey(pk, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkVerifyWrapped(b *testing.B) {
	k, msg, _, wsig := benchInputs(b)
	b.ReportAllocs()
	for range b.N {
		if !k.Verify(msg, wsig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkVerifyWrappedOracle(b *testing.B) {
	k, msg, _, wsig := benchInputs(b)
	pk := oracleKey(b, k)
	b.ReportAllocs()
	for range b.N {
		if !sr25519.OracleVerifyKey(pk, msg, wsig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkVerifyNewKey(b *testing.B) {
	k, msg, sig, _ := benchInputs(b)
	raw := k.Bytes()
	b.ReportAllocs()
	for range b.N {
		k, err := sr25519.NewPublicKey(raw)
		if err != nil || !k.Verify(msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkVerifyNewKeyOracle(b *testing.B) {
	k, msg, sig, _ := benchInputs(b)
	raw := k.Bytes()
	b.ReportAllocs()
	for range b.N {
		pk, err := schnorrkel.NewPublicKey(raw)
		if err != nil || !sr25519.OracleVerifyKey(pk, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkVerifyUnseenKey(b *testing.B) {
	k, msg, sig, _ := benchInputs(b)
	raw := k.Bytes()
	b.ReportAllocs()
	for range b.N {
		sr25519.ForgetTablesForTest()
		k, err := sr25519.NewPublicKey(raw)
		if err != nil || !k.Verify(msg, sig) {
			b.Fatal("does not verify")
		}
	}
}
