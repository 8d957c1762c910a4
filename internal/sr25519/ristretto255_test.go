package sr25519

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	r255 "github.com/gtank/ristretto255"
)

// Tests of the group arithmetic. The reference for points is
// filippo.io/edwards25519's exported API, for ristretto255 decoding
// gtank/ristretto255 (what go-schnorrkel uses) and RFC 9496's vectors.

// RFC 9496, appendix A.1: the encodings of 0 B, 1 B, ..., 15 B.
var smallMultiples = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
	"6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
	"94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
	"da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
	"e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
	"f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
	"44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
	"903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
	"02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
	"20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
	"bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
	"e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
	"aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
	"46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
	"e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
}

// RFC 9496, appendix A.2: encodings that decoding must reject.
var badEncodings = []struct{ why, hex string }{
	{"non-canonical field encoding", "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	{"non-canonical field encoding", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"non-canonical field encoding", "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"non-canonical field encoding", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"negative field element", "0100000000000000000000000000000000000000000000000000000000000000"},
	{"negative field element", "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"negative field element", "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20"},
	{"negative field element", "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562"},
	{"negative field element", "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78"},
	{"negative field element", "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24"},
	{"negative field element", "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72"},
	{"negative field element", "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309"},
	{"non-square x^2", "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371"},
	{"non-square x^2", "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f"},
	{"non-square x^2", "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b"},
	{"non-square x^2", "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042"},
	{"non-square x^2", "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08"},
	{"non-square x^2", "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22"},
	{"non-square x^2", "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731"},
	{"non-square x^2", "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b"},
	{"negative xy", "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e"},
	{"negative xy", "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220"},
	{"negative xy", "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e"},
	{"negative xy", "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32"},
	{"negative xy", "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b"},
	{"negative xy", "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165"},
	{"negative xy", "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e"},
	{"negative xy", "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b"},
	{"s = -1, so y = 0", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
}

// An edwards25519 point of order 8 (the torsion component a ristretto255
// decoding may carry is of order 4 at most).
const order8Hex = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func feFromDecimal(s string) *field.Element {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	b := make([]byte, 32)
	n.FillBytes(b)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return mustFE(b)
}

// RFC 9496, section 4.1.
var (
	feSqrtM1         = feFromDecimal("19681161376707505956807079304988542015446066515923890162744021073123829784752")
	feInvSqrtAMinusD = feFromDecimal("54469307008909316920995813868745141605393597292927456921205312896311721017578")
	feMinusOne       = new(field.Element).Negate(feOne)
)

// encodeRistretto is RFC 9496's encoding (section 4.3.2), which Verify
// does not need: the tests use it to check decoding and the arithmetic.
func encodeRistretto(p *extPoint) []byte {
	var u1, u2, tmp, invSqrt, den1, den2, zInv, ix0, iy0, ench, x, y, denInv, s field.Element
	u1.Add(&p.Z, &p.Y)
	tmp.Subtract(&p.Z, &p.Y)
	u1.Multiply(&u1, &tmp) // u1 = (z0 + y0) * (z0 - y0)
	u2.Multiply(&p.X, &p.Y)
	tmp.Square(&u2)
	tmp.Multiply(&tmp, &u1)
	invSqrt.SqrtRatio(feOne, &tmp) // (_, invsqrt) = SQRT_RATIO_M1(1, u1 * u2^2)
	den1.Multiply(&invSqrt, &u1)
	den2.Multiply(&invSqrt, &u2)
	zInv.Multiply(&den1, &den2)
	zInv.Multiply(&zInv, &p.T)
	ix0.Multiply(&p.X, feSqrtM1)
	iy0.Multiply(&p.Y, feSqrtM1)
	ench.Multiply(&den1, feInvSqrtAMinusD)
	rotate := tmp.Multiply(&p.T, &zInv).IsNegative()
	x.Select(&iy0, &p.X, rotate)
	y.Select(&ix0, &p.Y, rotate)
	denInv.Select(&ench, &den2, rotate)
	if tmp.Multiply(&x, &zInv).IsNegative() == 1 {
		y.Negate(&y)
	}
	s.Subtract(&p.Z, &y)
	s.Multiply(&denInv, &s)
	s.Absolute(&s)
	return s.Bytes()
}

// Conversions between filippo.io/edwards25519's points and ours.

func fromFilippo(p *edwards25519.Point) *extPoint {
	X, Y, Z, T := p.ExtendedCoordinates()
	var e extPoint
	e.X.Set(X)
	e.Y.Set(Y)
	e.Z.Set(Z)
	e.T.Set(T)
	return &e
}

func toFilippo(t testing.TB, e *extPoint) *edwards25519.Point {
	t.Helper()
	p, err := new(edwards25519.Point).SetExtendedCoordinates(&e.X, &e.Y, &e.Z, &e.T)
	if err != nil {
		t.Fatalf("not a point: %v", err)
	}
	return p
}

// sameProjective reports whether (X1:Y1:Z1) and (X2:Y2:Z2) are the same
// point of edwards25519: a stronger equality than ristretto255's.
func sameProjective(X1, Y1, Z1, X2, Y2, Z2 *field.Element) bool {
	var a, b field.Element
	if a.Multiply(X1, Z2).Equal(b.Multiply(X2, Z1)) != 1 {
		return false
	}
	return a.Multiply(Y1, Z2).Equal(b.Multiply(Y2, Z1)) == 1
}

func scalarFromUint(t testing.TB, n uint64) *edwards25519.Scalar {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(n >> (8 * i))
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scalarFromBig(t testing.TB, n *big.Int) *edwards25519.Scalar {
	b := make([]byte, 32)
	n.FillBytes(b)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		t.Fatalf("scalar %v: %v", n, err)
	}
	return s
}

func randomScalar(rng *rand.Rand) *edwards25519.Scalar {
	var b [64]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	s, err := edwards25519.NewScalar().SetUniformBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}

// groupOrder is ℓ = 2^252 + 27742317777372353535851937790883648493.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func TestConstants(t *testing.T) {
	// d = -121665/121666
	var n, den field.Element
	n.Negate(scalarFE(121665))
	den.Invert(scalarFE(121666))
	if n.Multiply(&n, &den).Equal(feD) != 1 {
		t.Error("feD is not -121665/121666")
	}
	// SQRT_M1^2 = -1; INVSQRT_A_MINUS_D^2 (a - d) = 1 with a = -1.
	if n.Square(feSqrtM1).Equal(feMinusOne) != 1 {
		t.Error("SQRT_M1^2 is not -1")
	}
	var amd field.Element
	amd.Subtract(feMinusOne, feD)
	if n.Square(feInvSqrtAMinusD).Multiply(&n, &amd).Equal(feOne) != 1 {
		t.Error("INVSQRT_A_MINUS_D^2 (a - d) is not 1")
	}
}

func scalarFE(n uint64) *field.Element {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(n >> (8 * i))
	}
	return mustFE(b[:])
}

// TestRistrettoSmallMultiples checks decoding and encoding against RFC
// 9496's vectors, and that the tables and the double-scalar multiplication
// compute i B.
func TestRistrettoSmallMultiples(t *testing.T) {
	B := edwards25519.NewGeneratorPoint()
	if got := hex.EncodeToString(encodeRistretto(fromFilippo(B))); got != smallMultiples[1] {
		t.Fatalf("B encodes as %s", got)
	}
	bTables := newKeyTables(B) // B's tables as if it were a key
	acc := edwards25519.NewIdentityPoint()
	for i, h := range smallMultiples {
		want := mustHex(t, h)
		var p extPoint
		if !decodeRistretto(&p, want) {
			t.Fatalf("%d B: does not decode", i)
		}
		if got := encodeRistretto(&p); !bytes.Equal(got, want) {
			t.Errorf("%d B: decodes and encodes as %x", i, got)
		}
		e := fromFilippo(acc)
		if got := encodeRistretto(e); !bytes.Equal(got, want) {
			t.Errorf("%d B by additions: got %x", i, got)
		}
		if !ristrettoEqual(&e.X, &e.Y, &p.X, &p.Y) {
			t.Errorf("%d B by additions is not the decoded %d B", i, i)
		}
		// i B = i B - 0 A = 0 B - (ℓ - i) B.
		var rhs edwards25519.Point
		schnorrRHS(&rhs, bTables, scalarFromUint(t, 0), scalarFromUint(t, uint64(i)))
		if got := encodeRistretto(fromFilippo(&rhs)); !bytes.Equal(got, want) {
			t.Errorf("%d B as %d B - 0 A: got %x", i, i, got)
		}
		k := scalarFromUint(t, 0)
		if i > 0 {
			k = scalarFromBig(t, new(big.Int).Sub(groupOrder, big.NewInt(int64(i)))) // ℓ - i
		}
		schnorrRHS(&rhs, bTables, k, scalarFromUint(t, 0))
		if got := encodeRistretto(fromFilippo(&rhs)); !bytes.Equal(got, want) {
			t.Errorf("%d B as 0 B - (ℓ - %d) B: got %x", i, i, got)
		}
		acc.Add(acc, B)
	}
}

func TestRistrettoBadEncodings(t *testing.T) {
	for _, c := range badEncodings {
		b := mustHex(t, c.hex)
		var p extPoint
		if decodeRistretto(&p, b) {
			t.Errorf("%s (%s): decodes", c.hex, c.why)
		}
		if err := r255.NewElement().Decode(b); err == nil {
			t.Errorf("%s (%s): gtank/ristretto255 decodes it", c.hex, c.why)
		}
	}
	// A valid encoding with the top bit set, or of another length.
	for _, h := range smallMultiples {
		b := mustHex(t, h)
		b[31] |= 0x80
		if decodeRistretto(new(extPoint), b) {
			t.Errorf("%x decodes with its top bit set", b)
		}
		if decodeRistretto(new(extPoint), b[:31]) || decodeRistretto(new(extPoint), append(mustHex(t, h), 0)) {
			t.Errorf("%s decodes at 31 or 33 bytes", h)
		}
	}
}

// TestDecodeAgainstGtank checks that decodeRistretto accepts exactly the
// encodings that go-schnorrkel's gtank/ristretto255 accepts, on random
// bytes, random elements and elements with a bit flipped, and that what it
// accepts encodes back to the same bytes.
func TestDecodeAgainstGtank(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'d', 'e', 'c', 'o', 'd', 'e'}))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	accepted := 0
	check := func(b []byte) {
		t.Helper()
		var p extPoint
		ours := decodeRistretto(&p, b)
		theirs := r255.NewElement().Decode(b) == nil
		if ours != theirs {
			t.Fatalf("%x: decodeRistretto %v, gtank/ristretto255 %v", b, ours, theirs)
		}
		if ours {
			accepted++
			if got := encodeRistretto(&p); !bytes.Equal(got, b) {
				t.Fatalf("%x decodes and encodes as %x", b, got)
			}
		}
	}
	for i := range n {
		b := make([]byte, 32)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		switch i % 4 {
		case 0: // random bytes
		case 1, 2: // a random element, perhaps with a bit flipped
			var u [64]byte
			for j := range u {
				u[j] = byte(rng.Uint32())
			}
			b = r255.NewElement().FromUniformBytes(u[:]).Encode(nil)
			if i%4 == 2 {
				b[rng.IntN(32)] ^= 1 << rng.IntN(8)
			}
		case 3: // near p = 2^255 - 19, or near 0
			for j := range b {
				b[j] = 0xff
			}
			b[31] = 0x7f
			b[0] = byte(0xed - 8 + rng.IntN(32)) // p-8 ... p+23
			if rng.IntN(2) == 0 {
				clear(b)
				b[0] = byte(rng.IntN(32))
			}
		}
		check(b)
	}
	if accepted < n/4 || accepted == n {
		t.Errorf("%d of %d accepted: the inputs do not test both outcomes", accepted, n)
	}
}

func FuzzDecodeRistretto(f *testing.F) {
	for _, h := range smallMultiples {
		f.Add(mustHex(f, h))
	}
	for _, c := range badEncodings {
		f.Add(mustHex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p extPoint
		ours := decodeRistretto(&p, b)
		theirs := len(b) == 32 && r255.NewElement().Decode(b) == nil
		if ours != theirs {
			t.Fatalf("%x: decodeRistretto %v, gtank/ristretto255 %v", b, ours, theirs)
		}
		if ours && !bytes.Equal(encodeRistretto(&p), b) {
			t.Fatalf("%x does not encode back", b)
		}
	})
}

// TestRistrettoEqual checks that ristrettoEqual compares classes modulo
// the 4-torsion: P equals P + T for T of order 1, 2 or 4, and not P + T
// for T of order 8, nor other points.
func TestRistrettoEqual(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'e', 'q'}))
	T8, err := new(edwards25519.Point).SetBytes(mustHex(t, order8Hex))
	if err != nil {
		t.Fatal(err)
	}
	var torsion [8]*edwards25519.Point // i T8
	torsion[0] = edwards25519.NewIdentityPoint()
	for i := 1; i < 8; i++ {
		torsion[i] = new(edwards25519.Point).Add(torsion[i-1], T8)
	}
	if new(edwards25519.Point).Add(torsion[7], T8).Equal(torsion[0]) != 1 || torsion[4].Equal(torsion[0]) == 1 {
		t.Fatal("T8 is not of order 8")
	}
	for range 50 {
		P := new(edwards25519.Point).ScalarBaseMult(randomScalar(rng))
		Q := new(edwards25519.Point).ScalarBaseMult(randomScalar(rng))
		p, q := fromFilippo(P), fromFilippo(Q)
		if ristrettoEqual(&p.X, &p.Y, &q.X, &q.Y) {
			t.Fatal("two random points are equal")
		}
		for i, T := range torsion {
			pt := fromFilippo(new(edwards25519.Point).Add(P, T))
			if got, want := ristrettoEqual(&p.X, &p.Y, &pt.X, &pt.Y), i%2 == 0; got != want {
				t.Fatalf("P and P + %d T8: equal %v, want %v", i, got, want)
			}
		}
	}
}

// TestNonAdjacentForm checks the digits' properties and their sum.
func TestNonAdjacentForm(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'n', 'a', 'f'}))
	lMinus1 := new(big.Int).Sub(groupOrder, big.NewInt(1))
	scalars := []*edwards25519.Scalar{
		scalarFromUint(t, 0), scalarFromUint(t, 1), scalarFromUint(t, 2), scalarFromUint(t, 0xffffffffffffffff),
		scalarFromBig(t, lMinus1), scalarFromBig(t, new(big.Int).Lsh(big.NewInt(1), 252)),
		scalarFromBig(t, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 252), big.NewInt(1))),
	}
	for range 2000 {
		scalars = append(scalars, randomScalar(rng))
	}
	for _, s := range scalars {
		b := s.Bytes()
		want := new(big.Int).SetBytes(reversed(b))
		for _, w := range []uint{keyWidth, baseWidth} {
			naf := nonAdjacentForm(b, w)
			sum := new(big.Int)
			last := 1 << 20 // the position of the last digit seen
			for i := 255; i >= 0; i-- {
				d := int(naf[i])
				sum.Lsh(sum, 1).Add(sum, big.NewInt(int64(d)))
				if d == 0 {
					continue
				}
				if d%2 == 0 || d >= 1<<(w-1) || d <= -(1<<(w-1)) {
					t.Fatalf("%x, w %d: digit %d at %d", b, w, d, i)
				}
				if last-i < int(w) {
					t.Fatalf("%x, w %d: digits at %d and %d", b, w, i, last)
				}
				last = i
			}
			if sum.Cmp(want) != 0 {
				t.Fatalf("%x, w %d: the digits sum to %v", b, w, sum)
			}
		}
	}
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// testPoints returns points to multiply: random multiples of B, and some
// with a torsion component of order 2, 4 and 8 (which no key has, as
// ristretto255 decoding never gives one, but the arithmetic is exact for
// them too).
func testPoints(t testing.TB, rng *rand.Rand, n int) []*edwards25519.Point {
	T8, err := new(edwards25519.Point).SetBytes(mustHex(t, order8Hex))
	if err != nil {
		t.Fatal(err)
	}
	T4 := new(edwards25519.Point).Add(T8, T8)
	T2 := new(edwards25519.Point).Add(T4, T4)
	pts := []*edwards25519.Point{edwards25519.NewGeneratorPoint(), edwards25519.NewIdentityPoint(), T8, T4, T2}
	for i := range n {
		P := new(edwards25519.Point).ScalarBaseMult(randomScalar(rng))
		switch i % 4 {
		case 1:
			P.Add(P, T8)
		case 2:
			P.Add(P, T4)
		case 3:
			P.Add(P, T2)
		}
		pts = append(pts, P)
	}
	return pts
}

// TestTables checks every entry of the base point's tables and of some
// keys' against filippo.io/edwards25519's scalar multiplication.
func TestTables(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'t', 'a', 'b'}))
	check := func(name string, tab []edwards25519.Point, P *edwards25519.Point, n int) {
		t.Helper()
		for j := range splits {
			for i := range n {
				// (2i+1) 2^(32 j) < ℓ: the product is exact, torsion or not.
				m := new(big.Int).Lsh(big.NewInt(int64(2*i+1)), uint(runBits*j))
				want := new(edwards25519.Point).ScalarMult(scalarFromBig(t, m), P)
				if tab[j*n+i].Equal(want) != 1 {
					t.Fatalf("%s: entry [%d][%d] is not %d 2^%d P", name, j, i, 2*i+1, runBits*j)
				}
			}
		}
	}
	check("base", theBaseTables()[:], edwards25519.NewGeneratorPoint(), baseTableSize)
	for i, P := range testPoints(t, rng, 8) {
		check("point "+string(rune('0'+i)), newKeyTables(P)[:], P, keyTableSize)
	}
}

// TestSchnorrRHS checks s B - k A against filippo.io/edwards25519, as
// points of edwards25519 (not only as ristretto255 elements).
func TestSchnorrRHS(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'r', 'h', 's'}))
	lMinus1 := new(big.Int).Sub(groupOrder, big.NewInt(1))
	edge := []*edwards25519.Scalar{
		scalarFromUint(t, 0), scalarFromUint(t, 1), scalarFromUint(t, 2), scalarFromUint(t, 15), scalarFromUint(t, 127),
		scalarFromBig(t, lMinus1), scalarFromBig(t, new(big.Int).Lsh(big.NewInt(1), 252)),
		scalarFromBig(t, new(big.Int).Lsh(big.NewInt(1), 64)), scalarFromBig(t, new(big.Int).Lsh(big.NewInt(1), 192)),
		scalarFromBig(t, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))),
	}
	n := 300
	if testing.Short() {
		n = 30
	}
	for _, P := range testPoints(t, rng, 20) {
		tab := newKeyTables(P)
		scalars := append([]*edwards25519.Scalar{}, edge...)
		for range n / 10 {
			scalars = append(scalars, randomScalar(rng))
		}
		for i, k := range scalars {
			for _, s := range []*edwards25519.Scalar{scalars[(i*7+3)%len(scalars)], randomScalar(rng), edge[i%len(edge)]} {
				checkRHS(t, P, tab, k, s)
			}
		}
	}
}

func checkRHS(t testing.TB, P *edwards25519.Point, tab *keyTables, k, s *edwards25519.Scalar) {
	t.Helper()
	var rhs edwards25519.Point
	schnorrRHS(&rhs, tab, k, s)
	// k A with k as an integer, then s B minus it.
	kP := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, P, edwards25519.NewScalar())
	want := new(edwards25519.Point).ScalarBaseMult(s)
	want.Subtract(want, kP)
	X, Y, Z, _ := want.ExtendedCoordinates()
	rX, rY, rZ, _ := rhs.ExtendedCoordinates()
	if !sameProjective(rX, rY, rZ, X, Y, Z) {
		t.Fatalf("s B - k A differs for A %x, k %x, s %x", P.Bytes(), k.Bytes(), s.Bytes())
	}
	toFilippo(t, fromFilippo(&rhs)) // on the curve
}

func FuzzSchnorrRHS(f *testing.F) {
	f.Add(uint8(0), make([]byte, 64), make([]byte, 64))
	f.Add(uint8(1), bytes.Repeat([]byte{0xff}, 64), bytes.Repeat([]byte{0xff}, 64))
	pts := testPoints(f, rand.New(rand.NewChaCha8([32]byte{'f'})), 11)
	tabs := make([]*keyTables, len(pts))
	for i, P := range pts {
		tabs[i] = newKeyTables(P)
	}
	f.Fuzz(func(t *testing.T, which uint8, kb, sb []byte) {
		var k, s [64]byte
		copy(k[:], kb)
		copy(s[:], sb)
		ks, _ := edwards25519.NewScalar().SetUniformBytes(k[:])
		ss, _ := edwards25519.NewScalar().SetUniformBytes(s[:])
		i := int(which) % len(pts)
		checkRHS(t, pts[i], tabs[i], ks, ss)
	})
}

// TestTableCache checks that tablesFor returns a key's own tables, from
// the cache the second time, and that the cache stays bounded.
func TestTableCache(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'c', 'a', 'c', 'h', 'e'}))
	keys := make([][PublicKeySize]byte, maxCachedTables+20)
	points := make([]*edwards25519.Point, len(keys))
	for i := range keys {
		points[i] = new(edwards25519.Point).ScalarBaseMult(randomScalar(rng))
		copy(keys[i][:], encodeRistretto(fromFilippo(points[i])))
	}
	for i := range keys {
		got := tablesFor(keys[i], points[i])
		if !sameTables(got, newKeyTables(points[i])) {
			t.Fatalf("key %d: tablesFor gives other tables", i)
		}
		if again := tablesFor(keys[i], points[i]); again != got {
			t.Fatalf("key %d: tables built again", i)
		}
		tableCache.Lock()
		n := len(tableCache.m)
		tableCache.Unlock()
		if n > maxCachedTables {
			t.Fatalf("%d tables cached", n)
		}
	}
}

func sameTables(a, b *keyTables) bool {
	for i := range a {
		if a[i].Equal(&b[i]) != 1 {
			return false
		}
	}
	return true
}
