package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/sqlite"
)

// benchSecrets is the number of secrets the benchmarks spread over.
const benchSecrets = 1000

// benchDB opens a database with an account, a store and benchSecrets secrets
// named app/secret-0000 and up.
func benchDB(b *testing.B) (*sqlite.DB, *coffer.Account, *coffer.Store) {
	b.Helper()
	db := MustOpenDB(b)
	a, st := fixture(b, db)
	for i := range benchSecrets {
		if _, err := put(context.Background(), db, st, fmt.Sprintf("app/secret-%04d", i), "value"); err != nil {
			b.Fatal(err)
		}
	}
	return db, a, st
}

// BenchmarkReadVersion reads the latest version of random secrets by store
// name and secret name, as a value read does, from parallel goroutines.
func BenchmarkReadVersion(b *testing.B) {
	ctx := context.Background()
	db, a, _ := benchDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for pb.Next() {
			name := fmt.Sprintf("app/secret-%04d", r.IntN(benchSecrets))
			if _, v, err := db.ReadVersion(ctx, a.ID, "prod", name, 0); err != nil || v.Number != 1 {
				b.Errorf("ReadVersion: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkWriteSecretParallel writes from 64 concurrent callers: group
// commit shares each fsync among them. OneSecret adds versions to one secret,
// RandomSecrets to random ones of 1000 (more pages per commit), Create makes
// new secrets.
func BenchmarkWriteSecretParallel(b *testing.B) {
	for _, c := range []struct {
		name string
		pick func(r *rand.Rand, n int64) string
	}{
		{"OneSecret", func(*rand.Rand, int64) string { return "app/secret-0000" }},
		{"RandomSecrets", func(r *rand.Rand, _ int64) string { return fmt.Sprintf("app/secret-%04d", r.IntN(benchSecrets)) }},
		{"Create", func(_ *rand.Rand, n int64) string { return fmt.Sprintf("new/secret-%d", n) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			db, _, st := benchDB(b)
			var n atomic.Int64
			b.SetParallelism(parallelism(64))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					if _, err := put(ctx, db, st, c.pick(r, n.Add(1)), "value"); err != nil {
						b.Errorf("WriteSecret: %v", err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkAuditParallel appends one value-read event per call from 64
// concurrent callers, as every value read does.
func BenchmarkAuditParallel(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	a, st := fixture(b, db)
	var n atomic.Int64
	b.SetParallelism(parallelism(64))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := &coffer.AuditEvent{
				AccountID: a.ID, PrincipalID: "p1", KeyID: "k1", Action: "secret.reveal", StoreID: st.ID,
				SecretID: coffer.NewID(), Name: "app/secret", Version: 1, Outcome: "ok", Reason: "admin",
				RequestID: fmt.Sprint("req-", n.Add(1)), Remote: "127.0.0.1:1234", Face: "native",
			}
			if err := db.Audit(ctx, ev); err != nil {
				b.Errorf("Audit: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// parallelism returns the RunParallel multiplier that gives about n
// goroutines.
func parallelism(n int) int {
	p := n / runtimeProcs()
	if p < 1 {
		p = 1
	}
	return p
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkRevealParallel does what a value read does in storage: read the
// latest version, then append its audit event and wait for it to be
// durable, from 64 concurrent callers. The audit commits invalidate the
// readers' page caches, as in production.
func BenchmarkRevealParallel(b *testing.B) {
	ctx := context.Background()
	db, a, _ := benchDB(b)
	b.SetParallelism(parallelism(64))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for pb.Next() {
			name := fmt.Sprintf("app/secret-%04d", r.IntN(benchSecrets))
			s, v, err := db.ReadVersion(ctx, a.ID, "prod", name, 0)
			if err != nil {
				b.Errorf("ReadVersion: %v", err)
				return
			}
			ev := &coffer.AuditEvent{
				AccountID: a.ID, PrincipalID: "p1", KeyID: "k1", Action: "secret.reveal", StoreID: s.StoreID,
				SecretID: s.ID, Name: s.Name, Version: v.Number, Outcome: "ok", Reason: "admin",
				RequestID: "req", Remote: "127.0.0.1:1234", Face: "native",
			}
			if err := db.Audit(ctx, ev); err != nil {
				b.Errorf("Audit: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkStore resolves a store by name, as every request does.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	a, _ := fixture(b, db)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Store(ctx, a.ID, "prod"); err != nil {
				b.Errorf("Store: %v", err)
				return
			}
		}
	})
}

// BenchmarkUseNonce records one new nonce per call from one caller: each
// call waits for its own commit.
func BenchmarkUseNonce(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := db.UseNonce(ctx, fmt.Sprint("hotkey:", i), now, now.Add(10*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUseNonceParallel records new nonces from 64 concurrent callers,
// as signed requests do: their uses share commits.
func BenchmarkUseNonceParallel(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	now := time.Now()
	var n atomic.Int64
	b.SetParallelism(parallelism(64))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.UseNonce(ctx, fmt.Sprint("hotkey:", n.Add(1)), now, now.Add(10*time.Minute)); err != nil {
				b.Errorf("UseNonce: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "nonces/s")
}

// BenchmarkAuditSearchWindow runs the worst filtered audit search: a
// filter that matches nothing, over one whole coffer.AuditScanWindow of a
// one-account log, as GET /v1/audit does for a page of a rare filter.
func BenchmarkAuditSearchWindow(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	a, st := fixture(b, db)
	const n = coffer.AuditScanWindow
	evs := make([]*coffer.AuditEvent, 0, 1024)
	for i := range n {
		evs = append(evs, &coffer.AuditEvent{
			AccountID: a.ID, PrincipalID: "p1", KeyID: "k1", Action: "secret.reveal", StoreID: st.ID,
			SecretID: fmt.Sprintf("%032d", i%500), Name: fmt.Sprintf("app/secret-%03d", i%500), Version: 1, Outcome: "ok",
			Reason: "admin", RequestID: fmt.Sprint("req-", i), Remote: "127.0.0.1:1234", Face: "native",
		})
		if len(evs) == cap(evs) || i == n-1 {
			if err := db.Audit(ctx, evs...); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	q := coffer.AuditQuery{Object: "no-such-secret", Newest: true, Limit: 51}
	b.ResetTimer()
	for b.Loop() {
		got, err := db.AuditEvents(ctx, a.ID, q)
		if err != nil || len(got) != 0 {
			b.Fatalf("got %d events, %v", len(got), err)
		}
	}
}
