package sr25519

import (
	"bytes"

	"filippo.io/edwards25519/field"
)

// This file decodes and compares ristretto255 elements (RFC 9496) as
// points of edwards25519 in extended coordinates, on the field arithmetic
// of filippo.io/edwards25519/field.

// extPoint is a point of edwards25519, -x^2 + y^2 = 1 + d x^2 y^2, in
// extended coordinates: x = X/Z, y = Y/Z, x y = T/Z.
type extPoint struct {
	X, Y, Z, T field.Element
}

var (
	feZero = new(field.Element)
	feOne  = new(field.Element).One()

	// feD is the curve constant d = -121665/121666.
	feD = mustFE([]byte{
		0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75,
		0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
		0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c,
		0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52})
)

func mustFE(b []byte) *field.Element {
	e, err := new(field.Element).SetBytes(b)
	if err != nil || !bytes.Equal(e.Bytes(), b) {
		panic("sr25519: bad field constant")
	}
	return e
}

// decodeRistretto sets p to the point that b encodes as a ristretto255
// element and reports whether b is the canonical encoding of an element
// (RFC 9496, section 4.3.1). It leaves p unspecified when it returns false.
// Decoding is not constant-time: b is public.
func decodeRistretto(p *extPoint, b []byte) bool {
	if len(b) != 32 {
		return false
	}
	// s is the little-endian integer b; SetBytes ignores the top bit and
	// reduces values from p to 2^255-1, so a round trip rejects both: s
	// must be less than p.
	var s field.Element
	if _, err := s.SetBytes(b); err != nil || !bytes.Equal(s.Bytes(), b) {
		return false
	}
	if s.IsNegative() == 1 {
		return false
	}
	// The steps of RFC 9496, its names in the comments.
	var ss, u1, u2, u2Sqr, v, tmp, invSqrt, denX, denY field.Element
	ss.Square(&s)
	u1.Subtract(feOne, &ss) // u1 = 1 - ss
	u2.Add(feOne, &ss)      // u2 = 1 + ss
	u2Sqr.Square(&u2)       // u2_sqr = u2^2

	// v = -(D * u1^2) - u2_sqr
	v.Square(&u1)
	v.Multiply(&v, feD)
	v.Negate(&v)
	v.Subtract(&v, &u2Sqr)

	// (was_square, invsqrt) = SQRT_RATIO_M1(1, v * u2_sqr)
	tmp.Multiply(&v, &u2Sqr)
	_, wasSquare := invSqrt.SqrtRatio(feOne, &tmp)

	denX.Multiply(&invSqrt, &u2) // den_x = invsqrt * u2
	denY.Multiply(&invSqrt, &denX)
	denY.Multiply(&denY, &v) // den_y = invsqrt * den_x * v

	// x = CT_ABS(2 * s * den_x), y = u1 * den_y, t = x * y
	p.X.Add(&s, &s)
	p.X.Multiply(&p.X, &denX)
	p.X.Absolute(&p.X)
	p.Y.Multiply(&u1, &denY)
	p.Z.One()
	p.T.Multiply(&p.X, &p.Y)

	// If was_square is FALSE, or IS_NEGATIVE(t), or y = 0, decoding fails.
	return wasSquare == 1 && p.T.IsNegative() == 0 && p.Y.Equal(feZero) == 0
}

// ristrettoEqual reports whether the points (X1:Y1:Z1) and (X2:Y2:Z2), in
// projective or extended coordinates, are the same ristretto255 element:
// X1 Y2 = Y1 X2 or Y1 Y2 = X1 X2 (RFC 9496, section 4.3.3).
func ristrettoEqual(X1, Y1, X2, Y2 *field.Element) bool {
	var a, b field.Element
	a.Multiply(X1, Y2)
	b.Multiply(Y1, X2)
	if a.Equal(&b) == 1 {
		return true
	}
	a.Multiply(Y1, Y2)
	b.Multiply(X1, X2)
	return a.Equal(&b) == 1
}
