package sr25519

import (
	"encoding/binary"
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// This file computes s B - k A, the right-hand side of a schnorrkel
// verification, on edwards25519 with the field arithmetic of
// filippo.io/edwards25519/field.
//
// filippo.io/edwards25519's own VarTimeDoubleScalarBaseMult takes as long
// as gtank/ristretto255's here: most of its time is 253 doublings. Since
// A is a public key that verifies many signatures, we trade a table per
// key for seven eighths of the doublings: with A_j = 2^(32 j) A and
// B_j = 2^(32 j) B,
//
//	s B - k A = sum_j (s_j B_j - k_j A_j), with k = sum_j k_j 2^(32 j),
//
// which needs 32 doublings. Each k_j, s_j is a run of 32 digits of the
// width-w non-adjacent form of k or s, so the tables hold the odd
// multiples of every A_j and B_j (w = 5 for keys, 8 for the base point),
// in affine form. The sum is computed on the integers k and s themselves,
// not modulo the group order: it is the same point of edwards25519 that a
// plain double-scalar multiplication gives, whatever A's torsion.
//
// The point formulas and the non-adjacent form are those of
// filippo.io/edwards25519 (BSD-3-Clause, copyright 2017 The Go Authors),
// which keeps them unexported: the extended coordinates and complete
// formulas of Hisil, Wong, Carter and Dawson, "Twisted Edwards curves
// revisited" (2008), with a = -1.

const (
	splits    = 8 // 32-bit runs per 256-bit scalar
	runBits   = 256 / splits
	keyWidth  = 5 // NAF width for A: 8 odd multiples per A_j
	baseWidth = 8 // NAF width for B: 64 odd multiples per B_j

	keyTableSize  = 1 << (keyWidth - 2)
	baseTableSize = 1 << (baseWidth - 2)
)

// projP1xP1 is a completed point: x = X/Z, y = Y/T.
type projP1xP1 struct {
	X, Y, Z, T field.Element
}

// projP2 is a projective point: x = X/Z, y = Y/Z.
type projP2 struct {
	X, Y, Z field.Element
}

// cachedPoint is an extended point prepared for addition.
type cachedPoint struct {
	YplusX, YminusX, Z, T2d field.Element
}

// nielsPoint is an affine point prepared for addition: (y+x, y-x, 2 d x y).
type nielsPoint struct {
	YplusX, YminusX, T2d field.Element
}

// keyTables holds, at [j*keyTableSize + i], (2i+1) 2^(32 j) A.
type keyTables [splits * keyTableSize]nielsPoint

// baseTables holds, at [j*baseTableSize + i], (2i+1) 2^(32 j) B.
type baseTables [splits * baseTableSize]nielsPoint

// theBaseTables are computed on first use.
var theBaseTables = sync.OnceValue(func() *baseTables {
	var b extPoint
	X, Y, Z, T := edwards25519.NewGeneratorPoint().ExtendedCoordinates()
	b.X.Set(X)
	b.Y.Set(Y)
	b.Z.Set(Z)
	b.T.Set(T)
	t := new(baseTables)
	buildTables(t[:], &b, baseTableSize)
	return t
})

func newKeyTables(a *extPoint) *keyTables {
	t := new(keyTables)
	buildTables(t[:], a, keyTableSize)
	return t
}

// maxCachedTables bounds tableCache: 512 keys' tables are 3.75 MiB.
const maxCachedTables = 512

// tableCache keeps the tables of the keys that verified signatures lately,
// so that a key parsed anew does not build them again: building them
// takes longer than a verification with them, and the service parses a
// hotkey again whenever its cached registration expires, every second. The tables are a function of the key's encoding, so a table
// from the cache is the one that the key would build.
var tableCache struct {
	sync.Mutex
	m map[[PublicKeySize]byte]*keyTables
}

// tablesFor returns the tables of the key raw, which decodes to a.
func tablesFor(raw [PublicKeySize]byte, a *extPoint) *keyTables {
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
func buildTables(out []nielsPoint, p *extPoint, n int) {
	pts := make([]extPoint, len(out))
	var (
		q   = *p
		q2  extPoint
		c   cachedPoint
		pp  projP2
		tmp projP1xP1
	)
	for j := range splits {
		if j > 0 { // q = 2^runBits q
			pp.fromExt(&q)
			for range runBits - 1 {
				pp.fromP1xP1(tmp.double(&pp))
			}
			q.fromP1xP1(tmp.double(&pp))
		}
		row := pts[j*n : (j+1)*n]
		row[0] = q
		q2.fromP1xP1(tmp.double(pp.fromExt(&q)))
		c.fromExt(&q2)
		for i := 1; i < n; i++ {
			row[i].fromP1xP1(tmp.addCached(&row[i-1], &c))
		}
	}
	// Make them affine with one inversion: prod[i] = Z_0 ... Z_i.
	prod := make([]field.Element, len(pts))
	prod[0].Set(&pts[0].Z)
	for i := 1; i < len(pts); i++ {
		prod[i].Multiply(&prod[i-1], &pts[i].Z)
	}
	var inv, invZ field.Element
	inv.Invert(&prod[len(pts)-1]) // Z is never 0: the formulas are complete
	for i := len(pts) - 1; i >= 0; i-- {
		if i > 0 {
			invZ.Multiply(&inv, &prod[i-1])
			inv.Multiply(&inv, &pts[i].Z)
		} else {
			invZ.Set(&inv)
		}
		pt, o := &pts[i], &out[i]
		o.YplusX.Add(&pt.Y, &pt.X)
		o.YplusX.Multiply(&o.YplusX, &invZ)
		o.YminusX.Subtract(&pt.Y, &pt.X)
		o.YminusX.Multiply(&o.YminusX, &invZ)
		o.T2d.Multiply(&pt.T, feD2)
		o.T2d.Multiply(&o.T2d, &invZ)
	}
}

// schnorrRHS sets out to s B - k A, where ka are A's tables.
func schnorrRHS(out *projP2, ka *keyTables, k, s *edwards25519.Scalar) {
	kNAF := nonAdjacentForm(k.Bytes(), keyWidth)
	sNAF := nonAdjacentForm(s.Bytes(), baseWidth)
	kb := theBaseTables()

	// The highest digit position, modulo 64, that has a digit.
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

	var (
		tmp projP1xP1
		e   extPoint
	)
	out.X.Zero()
	out.Y.One()
	out.Z.One()
	for r := top; r >= 0; r-- {
		tmp.double(out)
		for j := range splits {
			if d := kNAF[j*runBits+r]; d > 0 {
				tmp.subNiels(e.fromP1xP1(&tmp), &ka[j*keyTableSize+int(d)/2])
			} else if d < 0 {
				tmp.addNiels(e.fromP1xP1(&tmp), &ka[j*keyTableSize+int(-d)/2])
			}
			if d := sNAF[j*runBits+r]; d > 0 {
				tmp.addNiels(e.fromP1xP1(&tmp), &kb[j*baseTableSize+int(d)/2])
			} else if d < 0 {
				tmp.subNiels(e.fromP1xP1(&tmp), &kb[j*baseTableSize+int(-d)/2])
			}
		}
		out.fromP1xP1(&tmp)
	}
}

// nonAdjacentForm returns the width-w non-adjacent form of the scalar b
// (32 bytes, little-endian, less than 2^255): digits that are 0 or odd and
// less than 2^(w-1) in absolute value, any w consecutive ones holding at
// most one that is not 0, with sum(naf[i] 2^i) = b.
func nonAdjacentForm(b []byte, w uint) [256]int8 {
	// As filippo.io/edwards25519's, adapted from curve25519-dalek's:
	// https://github.com/dalek-cryptography/curve25519-dalek/blob/f630041af28e9a405255f98a8a93adca18e4315b/src/scalar.rs#L800-L871
	if len(b) != 32 || b[31] > 127 {
		panic("sr25519: scalar out of range")
	}
	if w < 2 || w > 8 {
		panic("sr25519: NAF width out of range")
	}
	var naf [256]int8
	var digits [5]uint64
	for i := range 4 {
		digits[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	width := uint64(1 << w)
	windowMask := width - 1

	pos := uint(0)
	carry := uint64(0)
	for pos < 256 {
		indexU64 := pos / 64
		indexBit := pos % 64
		var bitBuf uint64
		if indexBit < 64-w {
			bitBuf = digits[indexU64] >> indexBit
		} else {
			bitBuf = (digits[indexU64] >> indexBit) | (digits[1+indexU64] << (64 - indexBit))
		}
		window := carry + (bitBuf & windowMask)
		if window&1 == 0 {
			// An even window: the carry stays what it is (when it is 1,
			// bitBuf's low bit is 1 too, so the next carry is 1).
			pos++
			continue
		}
		if window < width/2 {
			carry = 0
			naf[pos] = int8(window)
		} else {
			carry = 1
			naf[pos] = int8(window) - int8(width)
		}
		pos += w
	}
	return naf
}

// Conversions.

func (v *projP2) fromP1xP1(p *projP1xP1) *projP2 {
	v.X.Multiply(&p.X, &p.T)
	v.Y.Multiply(&p.Y, &p.Z)
	v.Z.Multiply(&p.Z, &p.T)
	return v
}

func (v *projP2) fromExt(p *extPoint) *projP2 {
	v.X.Set(&p.X)
	v.Y.Set(&p.Y)
	v.Z.Set(&p.Z)
	return v
}

func (v *extPoint) fromP1xP1(p *projP1xP1) *extPoint {
	v.X.Multiply(&p.X, &p.T)
	v.Y.Multiply(&p.Y, &p.Z)
	v.Z.Multiply(&p.Z, &p.T)
	v.T.Multiply(&p.X, &p.Y)
	return v
}

func (v *cachedPoint) fromExt(p *extPoint) *cachedPoint {
	v.YplusX.Add(&p.Y, &p.X)
	v.YminusX.Subtract(&p.Y, &p.X)
	v.Z.Set(&p.Z)
	v.T2d.Multiply(&p.T, feD2)
	return v
}

// Doubling and addition.

func (v *projP1xP1) double(p *projP2) *projP1xP1 {
	var XX, YY, ZZ2, XplusYsq field.Element
	XX.Square(&p.X)
	YY.Square(&p.Y)
	ZZ2.Square(&p.Z)
	ZZ2.Add(&ZZ2, &ZZ2)
	XplusYsq.Add(&p.X, &p.Y)
	XplusYsq.Square(&XplusYsq)

	v.Y.Add(&YY, &XX)
	v.Z.Subtract(&YY, &XX)
	v.X.Subtract(&XplusYsq, &v.Y)
	v.T.Subtract(&ZZ2, &v.Z)
	return v
}

func (v *projP1xP1) addCached(p *extPoint, q *cachedPoint) *projP1xP1 {
	var YplusX, YminusX, PP, MM, TT2d, ZZ2 field.Element
	YplusX.Add(&p.Y, &p.X)
	YminusX.Subtract(&p.Y, &p.X)
	PP.Multiply(&YplusX, &q.YplusX)
	MM.Multiply(&YminusX, &q.YminusX)
	TT2d.Multiply(&p.T, &q.T2d)
	ZZ2.Multiply(&p.Z, &q.Z)
	ZZ2.Add(&ZZ2, &ZZ2)

	v.X.Subtract(&PP, &MM)
	v.Y.Add(&PP, &MM)
	v.Z.Add(&ZZ2, &TT2d)
	v.T.Subtract(&ZZ2, &TT2d)
	return v
}

func (v *projP1xP1) addNiels(p *extPoint, q *nielsPoint) *projP1xP1 {
	var YplusX, YminusX, PP, MM, TT2d, Z2 field.Element
	YplusX.Add(&p.Y, &p.X)
	YminusX.Subtract(&p.Y, &p.X)
	PP.Multiply(&YplusX, &q.YplusX)
	MM.Multiply(&YminusX, &q.YminusX)
	TT2d.Multiply(&p.T, &q.T2d)
	Z2.Add(&p.Z, &p.Z)

	v.X.Subtract(&PP, &MM)
	v.Y.Add(&PP, &MM)
	v.Z.Add(&Z2, &TT2d)
	v.T.Subtract(&Z2, &TT2d)
	return v
}

// subNiels adds -q, which is (y-x, y+x, -2 d x y) in Niels form.
func (v *projP1xP1) subNiels(p *extPoint, q *nielsPoint) *projP1xP1 {
	var YplusX, YminusX, PP, MM, TT2d, Z2 field.Element
	YplusX.Add(&p.Y, &p.X)
	YminusX.Subtract(&p.Y, &p.X)
	PP.Multiply(&YplusX, &q.YminusX)
	MM.Multiply(&YminusX, &q.YplusX)
	TT2d.Multiply(&p.T, &q.T2d)
	Z2.Add(&p.Z, &p.Z)

	v.X.Subtract(&PP, &MM)
	v.Y.Add(&PP, &MM)
	v.Z.Subtract(&Z2, &TT2d)
	v.T.Add(&Z2, &TT2d)
	return v
}
