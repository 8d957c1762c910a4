package sr25519

// Base58 with the Bitcoin alphabet, as SS58 uses it: the digits of a big
// number, most significant first, with one leading '1' per leading zero
// byte. Inputs here are short (an address is 35 bytes), so the quadratic
// schoolbook conversion is the simplest right choice.

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Digits maps a character to its digit value, or 0xff.
var base58Digits = func() [256]byte {
	var d [256]byte
	for i := range d {
		d[i] = 0xff
	}
	for i := 0; i < len(base58Alphabet); i++ {
		d[base58Alphabet[i]] = byte(i)
	}
	return d
}()

// decodeBase58 decodes s; ok is false for a character outside the alphabet
// or an empty s.
func decodeBase58(s string) (b []byte, ok bool) {
	if s == "" {
		return nil, false
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	// Each base58 digit carries log2(58) < 6 bits: len(s)*733/1000+1 bytes
	// hold the number.
	num := make([]byte, len(s)*733/1000+1) // big-endian, fixed width
	for i := zeros; i < len(s); i++ {
		carry := uint32(base58Digits[s[i]])
		if carry == 0xff {
			return nil, false
		}
		for j := len(num) - 1; j >= 0; j-- {
			carry += uint32(num[j]) * 58
			num[j] = byte(carry)
			carry >>= 8
		}
		if carry != 0 {
			return nil, false // cannot happen with the width above
		}
	}
	start := 0
	for start < len(num) && num[start] == 0 {
		start++
	}
	out := make([]byte, zeros, zeros+len(num)-start)
	return append(out, num[start:]...), true
}

// encodeBase58 encodes b.
func encodeBase58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// Each byte needs log(256)/log(58) < 1.38 digits.
	digits := make([]byte, (len(b)-zeros)*138/100+1) // little-endian base 58
	n := 0
	for _, c := range b[zeros:] {
		carry := uint32(c)
		for j := 0; j < n; j++ {
			carry += uint32(digits[j]) << 8
			digits[j] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits[n] = byte(carry % 58)
			carry /= 58
			n++
		}
	}
	out := make([]byte, 0, zeros+n)
	for range zeros {
		out = append(out, '1')
	}
	for j := n - 1; j >= 0; j-- {
		out = append(out, base58Alphabet[digits[j]])
	}
	return string(out)
}
