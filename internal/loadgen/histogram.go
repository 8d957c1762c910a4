package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Latencies are counted in a fixed log-linear histogram: values below 128 ns
// each have a bucket, and every power of two above that is split into 128
// equal buckets, so a bucket is never wider than 1/128 (0.8%) of its values.
// Recording one latency is an index computation and an increment; each
// worker owns one histogram and they are merged once at the end.
const (
	subBits    = 7
	subCount   = 1 << subBits // buckets per power of two
	maxShift   = 36 - subBits // values of 2^36 ns (about 69 s) or more share the last bucket
	numBuckets = (maxShift + 2) * subCount
)

type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

// bucketOf returns the index of the bucket holding d nanoseconds.
func bucketOf(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subCount, 2*subCount)
	if shift > maxShift {
		return numBuckets - 1
	}
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketMid returns the middle of bucket i's range of values.
func bucketMid(i int) time.Duration {
	if i < subCount {
		return time.Duration(i)
	}
	shift := i/subCount - 1
	low := uint64(subCount+i%subCount) << shift
	return time.Duration(low + (uint64(1)<<shift)/2)
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.n++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the recorded
// values fall, to within the width of a bucket, and never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n))) // nearest-rank definition
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMid(i), h.max)
		}
	}
	return h.max
}
