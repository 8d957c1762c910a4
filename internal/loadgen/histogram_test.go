package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t.Run("Exact", func(t *testing.T) {
		// Buckets are 1 ns wide up to 2*subCount ns.
		for d := time.Duration(0); d < 2*subCount; d++ {
			if got := bucketMid(bucketOf(d)); got != d {
				t.Fatalf("bucketMid(bucketOf(%d)) = %d, want %d", d, got, d)
			}
		}
	})
	t.Run("RelativeError", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for range 100000 {
			d := time.Duration(r.Int64N(int64(60 * time.Second)))
			i := bucketOf(d)
			if i < 0 || i >= numBuckets {
				t.Fatalf("bucketOf(%d) = %d, want in [0, %d)", d, i, numBuckets)
			}
			mid := bucketMid(i)
			if diff := float64(mid-d) / float64(d); diff > 1.0/subCount || diff < -1.0/subCount {
				t.Fatalf("bucketMid(bucketOf(%v)) = %v: off by %.2f%%", d, mid, diff*100)
			}
		}
	})
	t.Run("Monotonic", func(t *testing.T) {
		prev := -1
		for d := time.Duration(1); d < time.Minute; d = d*9/8 + 1 {
			i := bucketOf(d)
			if i < prev {
				t.Fatalf("bucketOf(%v) = %d, below bucketOf of a smaller value %d", d, i, prev)
			}
			prev = i
		}
	})
	t.Run("Huge", func(t *testing.T) {
		if got, want := bucketOf(time.Duration(1<<62)), numBuckets-1; got != want {
			t.Fatalf("bucketOf(2^62) = %d, want %d", got, want)
		}
		if got := bucketOf(-5); got != 0 {
			t.Fatalf("bucketOf(-5) = %d, want 0", got)
		}
	})
}

func TestQuantile(t *testing.T) {
	var a, b histogram
	// 1..1000 µs, split over two histograms to exercise merge.
	for i := 1; i <= 1000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.record(time.Duration(i) * time.Microsecond)
	}
	a.merge(&b)
	if got, want := a.n, uint64(1000); got != want {
		t.Fatalf("n = %d, want %d", got, want)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Microsecond},
		{0.9, 900 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{1, 1000 * time.Microsecond},
		{0, 1 * time.Microsecond},
	} {
		got := a.quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff > 0.01 || diff < -0.01 {
			t.Errorf("quantile(%v) = %v, want %v within 1%%", tt.q, got, tt.want)
		}
	}
	if got, want := a.max, 1000*time.Microsecond; got != want {
		t.Errorf("max = %v, want %v", got, want)
	}
	if got, want := a.sum/time.Duration(a.n), 500500*time.Nanosecond; got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}
