package service

import (
	"strconv"
	"testing"
	"time"
)

// TestFailLimiterNetworks checks that the addresses of one /24 (IPv4) or
// /64 (IPv6) share a budget besides their own: one failure from each of
// many addresses of a network exhausts it, while an address elsewhere is
// not refused (issue 17 item 6).
func TestFailLimiterNetworks(t *testing.T) {
	for _, tt := range []struct {
		name           string
		addr           func(i int) string
		other, outside string
	}{
		{"IPv4", func(i int) string { return "192.0.2." + strconv.Itoa(i) }, "192.0.2.250", "192.0.3.1"},
		{"Loopback", func(i int) string { return "127.0.0." + strconv.Itoa(i+1) }, "127.0.0.254", "127.0.1.1"},
		{"IPv6", func(i int) string { return "2001:db8:1:2::" + strconv.FormatInt(int64(i+1), 16) }, "2001:db8:1:2:ffff::1", "2001:db8:1:3::1"},
		{"IPv4Mapped", func(i int) string { return "::ffff:198.51.100." + strconv.Itoa(i) }, "198.51.100.250", "198.51.101.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l failLimiter
			now := time.Unix(1000, 0)
			for i := range prefixBurst {
				if w := l.wait(now, tt.addr(i)); w != 0 {
					t.Fatalf("failure %d from a new address: got wait %v, want 0", i+1, w)
				}
				l.fail(now, tt.addr(i))
			}
			if w := l.wait(now, tt.other); w <= 0 {
				t.Errorf("another address of the network after %d failures: got wait %v, want > 0", prefixBurst, w)
			}
			if w := l.wait(now, tt.outside); w != 0 {
				t.Errorf("an address of another network: got wait %v, want 0", w)
			}
			if w := l.wait(now.Add(prefixRefill), tt.other); w != 0 {
				t.Errorf("after one network refill interval: got wait %v, want 0", w)
			}
		})
	}
}

// TestFailLimiterEvicts checks that a full table evicts instead of
// resetting: an address that exhausted its budget is still refused after a
// flood of other failures filled the table, and the table stays bounded.
func TestFailLimiterEvicts(t *testing.T) {
	var l failLimiter
	now := time.Unix(1000, 0)
	for i := range maxBuckets - 10 { // key ids: no network entry
		l.fail(now, "k"+strconv.Itoa(i))
	}
	now = now.Add(time.Second)
	for range failBurst {
		l.fail(now, "192.0.2.7")
	}
	if w := l.wait(now, "192.0.2.7"); w <= 0 {
		t.Fatalf("the address is not refused before the table fills: wait %v", w)
	}
	for i := range 100 {
		l.fail(now, "new"+strconv.Itoa(i))
	}
	if w := l.wait(now, "192.0.2.7"); w <= 0 {
		t.Errorf("after the table filled: got wait %v for the exhausted address, want > 0", w)
	}
	if n := len(l.m); n > maxBuckets {
		t.Errorf("table holds %d buckets, want at most %d", n, maxBuckets)
	}
	// Buckets whose budget is full again go first.
	var m failLimiter
	for i := range maxBuckets {
		m.fail(now, "old"+strconv.Itoa(i))
	}
	later := now.Add(failBurst * failRefill)
	m.fail(later, "fresh")
	if n := len(m.m); n != 1 {
		t.Errorf("after every old bucket forgave: %d buckets, want 1", n)
	}
}
