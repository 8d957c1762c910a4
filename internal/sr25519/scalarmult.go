package sr25519

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"filippo.io/edwards25519"
)

// This file computes s B - k A, the right-hand side of a schnorrkel
// verification, with filippo.io/edwards25519's exported point operations
// only (Point.Add and Point.Subtract): no curve constant or point formula
// of its own.
//
// filippo.io/edwards25519's VarTimeDoubleScalarBaseMult spends most of its
// time in 253 doublings, which made a signed Chutes request cost 40% more
// CPU than with the sums below. Since A is a public key that verifies many
// signatures, we trade a table per key for seven eighths of the doublings:
// with A_j = 2^(32 j) A and B_j = 2^(32 j) B,
//
//	s B - k A = sum_j (s_j B_j - k_j A_j), with k = sum_j k_j 2^(32 j),
//
// which needs 32 doublings. Each k_j, s_j is a run of 32 digits of the
// width-w non-adjacent form of k or s, so the tables hold the odd
// multiples of every A_j and B_j (w = 5 for keys, 8 for the base point).
// The sum is computed on the integers k and s themselves, not modulo the
// group order: it is the same point of edwards25519 that a plain
// double-scalar multiplication gives, whatever A's torsion.

const (
	splits    = 8 // 32-bit runs per 256-bit scalar
	runBits   = 256 / splits
	keyWidth  = 5 // NAF width for A: 8 odd multiples per A_j
	baseWidth = 8 // NAF width for B: 64 odd multiples per B_j

	keyTableSize  = 1 << (keyWidth - 2)
	baseTableSize = 1 << (baseWidth - 2)
)

// keyTables holds, at [j*keyTableSize + i], (2i+1) 2^(32 j) A.
type keyTables [splits * keyTableSize]edwards25519.Point

// baseTables holds, at [j*baseTableSize + i], (2i+1) 2^(32 j) B.
type baseTables [splits * baseTableSize]edwards25519.Point

// theBaseTables are computed on first use.
var theBaseTables = sync.OnceValue(func() *baseTables {
	t := new(baseTables)
	buildTables(t[:], edwards25519.NewGeneratorPoint(), baseTableSize)
	return t
})

func newKeyTables(a *edwards25519.Point) *keyTables {
	t := new(keyTables)
	buildTables(t[:], a, keyTableSize)
	return t
}

// maxCachedTables bounds tableCache: 512 keys' tables are 5 MiB.
const maxCachedTables = 512

// tableCache keeps the tables of the keys that verified signatures lately,
// so that a key parsed anew does not build them again: building them
// takes longer than a verification with them, and the service parses a
// hotkey again whenever its cached registration expires, every second. The
// tables are a function of the key's encoding, so a table from the cache
// is the one that the key would build.
var tableCache struct {
	sync.Mutex
	m map[[PublicKeySize]byte]*keyTables
}

// tablesFor returns the tables of the key raw, which decodes to a.
func tablesFor(raw [PublicKeySize]byte, a *edwards25519.Point) *keyTables {
	tableCache.Lock()
	t := tableCache.m[raw]
	tableCache.Unlock()
	if t != nil {
		return t
	}
	t = newKeyTables(a)
	tableCache.Lock()
	defer tableCache.Unlock()
	if tableCache.m == nil {
		tableCache.m = make(map[[PublicKeySize]byte]*keyTables)
	}
	if len(tableCache.m) >= maxCachedTables {
		for k := range tableCache.m { // drop one, at random
			delete(tableCache.m, k)
			break
		}
	}
	tableCache.m[raw] = t
	return t
}

// buildTables sets out[j*n + i] to (2i+1) 2^(runBits j) p, for j < splits.
func buildTables(out []edwards25519.Point, p *edwards25519.Point, n int) {
	q := new(edwards25519.Point).Set(p)
	q2 := new(edwards25519.Point)
	for j := range splits {
		if j > 0 { // q = 2^runBits q
			for range runBits {
				q.Add(q, q)
			}
		}
		row := out[j*n : (j+1)*n]
		row[0].Set(q)
		q2.Add(q, q)
		for i := 1; i < n; i++ {
			row[i].Add(&row[i-1], q2)
		}
	}
}

// schnorrRHS sets out to s B - k A, where ka are A's tables, and returns
// out.
func schnorrRHS(out *edwards25519.Point, ka *keyTables, k, s *edwards25519.Scalar) *edwards25519.Point {
	kNAF := nonAdjacentForm(k.Bytes(), keyWidth)
	sNAF := nonAdjacentForm(s.Bytes(), baseWidth)
	kb := theBaseTables()

	// The highest digit position, modulo 32, that has a digit.
	top := runBits - 1
	for ; top >= 0; top-- {
		found := false
		for j := range splits {
			found = found || kNAF[j*runBits+top] != 0 || sNAF[j*runBits+top] != 0
		}
		if found {
			break
		}
	}

	out.Set(edwards25519.NewIdentityPoint())
	for r := top; r >= 0; r-- {
		out.Add(out, out)
		for j := range splits {
			if d := kNAF[j*runBits+r]; d > 0 {
				out.Subtract(out, &ka[j*keyTableSize+int(d)/2])
			} else if d < 0 {
				out.Add(out, &ka[j*keyTableSize+int(-d)/2])
			}
			if d := sNAF[j*runBits+r]; d > 0 {
				out.Add(out, &kb[j*baseTableSize+int(d)/2])
			} else if d < 0 {
				out.Subtract(out, &kb[j*baseTableSize+int(-d)/2])
			}
		}
	}
	return out
}

// nonAdjacentForm returns the width-w non-adjacent form (2 <= w <= 8) of
// the scalar b (32 bytes, little-endian, less than 2^255): digits that are
// 0 or odd and less than 2^(w-1) in absolute value, any w consecutive ones
// holding at most one that is not 0, with sum(naf[i] 2^i) = b. It is the
// textbook recoding: while the rest x is not 0, an odd x gives the digit
// d = x mod 2^w, taken between -2^(w-1) and 2^(w-1), and x - d, which is a
// multiple of 2^w, is shifted on.
func nonAdjacentForm(b []byte, w uint) [256]int8 {
	if len(b) != 32 || b[31] > 127 {
		panic("sr25519: scalar out of range")
	}
	if w < 2 || w > 8 {
		panic("sr25519: NAF width out of range")
	}
	var naf [256]int8
	var x [5]uint64 // little-endian limbs; the fifth takes a carry
	for i := range 4 {
		x[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	half := int64(1) << (w - 1)
	for pos := uint(0); pos < 256; {
		if x[0] == 0 {
			if x == ([5]uint64{}) {
				break
			}
			x = [5]uint64{x[1], x[2], x[3], x[4], 0}
			pos += 64
			continue
		}
		if tz := uint(bits.TrailingZeros64(x[0])); tz > 0 {
			shiftRight(&x, tz)
			pos += tz
			continue
		}
		d := int64(x[0] & (1<<w - 1))
		if d >= half {
			d -= 2 * half
		}
		naf[pos] = int8(d)
		var borrow, carry uint64
		if d > 0 {
			x[0], borrow = bits.Sub64(x[0], uint64(d), 0)
			for i := 1; i < len(x) && borrow != 0; i++ {
				x[i], borrow = bits.Sub64(x[i], 0, borrow)
			}
		} else {
			x[0], carry = bits.Add64(x[0], uint64(-d), 0)
			for i := 1; i < len(x) && carry != 0; i++ {
				x[i], carry = bits.Add64(x[i], 0, carry)
			}
		}
		shiftRight(&x, w)
		pos += w
	}
	return naf
}

// shiftRight shifts the limbs x right by n bits, 0 < n < 64.
func shiftRight(x *[5]uint64, n uint) {
	for i := 0; i < len(x)-1; i++ {
		x[i] = x[i]>>n | x[i+1]<<(64-n)
	}
	x[len(x)-1] >>= n
}
