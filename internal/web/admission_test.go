package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/web"
	"github.com/prometheus/client_golang/prometheus"
)

func TestAdmission(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		a := web.NewAdmission(2, time.Second, prometheus.NewRegistry())
		r1, ok1 := a.Acquire(context.Background())
		r2, ok2 := a.Acquire(context.Background())
		if !ok1 || !ok2 {
			t.Fatalf("got %v %v, want two slots", ok1, ok2)
		}
		r1()
		r2()
		r3, ok := a.Acquire(context.Background())
		if !ok {
			t.Fatal("a released slot was not given again")
		}
		r3()
	})
	t.Run("WaitsForSlot", func(t *testing.T) {
		a := web.NewAdmission(1, 5*time.Second, prometheus.NewRegistry())
		r1, _ := a.Acquire(context.Background())
		time.AfterFunc(50*time.Millisecond, r1)
		start := time.Now()
		r2, ok := a.Acquire(context.Background())
		if !ok {
			t.Fatal("a waiting request was refused though a slot came free")
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Fatalf("admitted after %v, before the slot came free", d)
		}
		r2()
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		a := web.NewAdmission(1, 30*time.Millisecond, prometheus.NewRegistry())
		r1, _ := a.Acquire(context.Background())
		defer r1()
		start := time.Now()
		if _, ok := a.Acquire(context.Background()); ok {
			t.Fatal("got a slot beyond the limit")
		}
		if d := time.Since(start); d < 30*time.Millisecond || d > 2*time.Second {
			t.Fatalf("refused after %v, want about the 30ms queue timeout", d)
		}
	})
	t.Run("ErrQueueFull", func(t *testing.T) {
		// One slot and a queue of one: the second request waits, the
		// third is refused at once.
		a := web.NewAdmission(1, 10*time.Second, prometheus.NewRegistry())
		r1, _ := a.Acquire(context.Background())
		waited := make(chan bool)
		go func() {
			r, ok := a.Acquire(context.Background())
			if ok {
				r()
			}
			waited <- ok
		}()
		for deadline := time.Now().Add(5 * time.Second); a.Waiting() < 1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the second request never queued")
			}
		}
		start := time.Now()
		if _, ok := a.Acquire(context.Background()); ok {
			t.Fatal("got a slot beyond the limit")
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("refused after %v, want at once: the queue was full", d)
		}
		r1()
		if !<-waited {
			t.Fatal("the queued request was refused")
		}
	})
	t.Run("ErrCanceled", func(t *testing.T) {
		a := web.NewAdmission(1, 10*time.Second, prometheus.NewRegistry())
		r1, _ := a.Acquire(context.Background())
		defer r1()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, ok := a.Acquire(ctx); ok {
			t.Fatal("got a slot beyond the limit")
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		a := web.NewAdmission(3, 0, reg)
		r1, _ := a.Acquire(context.Background())
		defer r1()
		a.Shed("cloudflare")
		a.Shed("cloudflare")
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 3 {
			t.Fatalf("got %d metric families (%v), want 3", len(mfs), err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "coffer_http_shed_total":
				if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 2 {
					t.Errorf("shed: got %v, want 2", got)
				}
			case "coffer_http_inflight_requests":
				if got := mf.GetMetric()[0].GetGauge().GetValue(); got != 1 {
					t.Errorf("inflight: got %v, want 1", got)
				}
			}
		}
	})
}
