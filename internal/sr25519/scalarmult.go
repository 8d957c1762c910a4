package sr25519

import "filippo.io/edwards25519"

// schnorrRHS sets out to s B - k A, the right-hand side of a schnorrkel
// verification, where negA is -A and B the base point, and returns out. It
// is filippo.io/edwards25519's variable-time double-scalar multiplication,
// k (-A) + s B: k, s and A are public. The scalars are reduced modulo the
// group order, as they are in a signature; the point is the one a plain
// double-scalar multiplication gives, whatever A's torsion.
func schnorrRHS(out, negA *edwards25519.Point, k, s *edwards25519.Scalar) *edwards25519.Point {
	return out.VarTimeDoubleScalarBaseMult(k, negA, s)
}
