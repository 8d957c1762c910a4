package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// putValues writes the values to the secret name of store, in order.
func putValues(t *testing.T, svc *service.Service, ctx context.Context, store, name string, values ...string) *coffer.Secret {
	t.Helper()
	var sec *coffer.Secret
	for _, v := range values {
		var err error
		if sec, err = svc.PutSecret(ctx, store, &coffer.SecretPut{Name: name, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	return sec
}

// wantValue checks that Reveal serves want for version n of name.
func wantValue(t *testing.T, svc *service.Service, ctx context.Context, name string, n int, want string) {
	t.Helper()
	v, err := svc.Reveal(ctx, "s", name, n)
	if err != nil || string(v.Data) != want {
		t.Fatalf("Reveal(%s, %d): got %v, %v; want %q", name, n, v, err, want)
	}
}

// wantDeletedVersion checks that Reveal refuses version n of name as
// deleted.
func wantDeletedVersion(t *testing.T, svc *service.Service, ctx context.Context, name string, n int) {
	t.Helper()
	_, err := svc.Reveal(ctx, "s", name, n)
	if coffer.ErrorCode(err) != coffer.ENOTFOUND || !strings.Contains(coffer.ErrorMessage(err), "deleted") {
		t.Fatalf("Reveal(%s, %d) of a deleted version: got %v, want ENOTFOUND saying it is deleted", name, n, err)
	}
}

func TestDeleteVersions(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	putValues(t, svc, ctx, "s", "app/db", "v1", "v2", "v3")
	putValues(t, svc, ctx, "s", "app/other", "o1")

	// Reads fill the caches (values, history, metadata) first.
	wantValue(t, svc, ctx, "app/db", 0, "v3")
	wantValue(t, svc, ctx, "app/db", 2, "v2")
	if _, err := svc.Versions(ctx, "s", "app/db"); err != nil {
		t.Fatal(err)
	}

	sec, err := svc.DeleteVersions(ctx, "s", "app/db", []int{3, 2, 2, 9})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Name != "app/db" || sec.Version != 3 {
		t.Fatalf("DeleteVersions: got %s v%d, want app/db v3", sec.Name, sec.Version)
	}
	ev := lastEvent(t, svc, ctx)
	if ev.Action != "secret.version.delete" || ev.Outcome != "ok" || ev.SecretID != sec.ID || !strings.HasSuffix(ev.Reason, "; versions 2,3,9") {
		t.Fatalf("audit: got %s %s %q %q, want secret.version.delete ok naming versions 2,3,9", ev.Action, ev.Outcome, ev.SecretID, ev.Reason)
	}

	t.Run("RevealRefuses", func(t *testing.T) {
		wantDeletedVersion(t, svc, ctx, "app/db", 0)
		wantDeletedVersion(t, svc, ctx, "app/db", 3)
		wantDeletedVersion(t, svc, ctx, "app/db", 2)
		if ev := lastEvent(t, svc, ctx); ev.Action != "secret.reveal" || ev.Outcome != coffer.ENOTFOUND || ev.Version != 2 {
			t.Fatalf("audit: got %s %s v%d, want the refused secret.reveal of version 2", ev.Action, ev.Outcome, ev.Version)
		}
		wantValue(t, svc, ctx, "app/db", 1, "v1")
	})
	t.Run("RevealManyLeavesOut", func(t *testing.T) {
		page, err := svc.RevealMany(ctx, "s", &coffer.RevealQuery{Prefix: "app/"})
		if err != nil || len(page.Values) != 1 || page.Values[0].Name != "app/other" {
			t.Fatalf("RevealMany: got %+v, %v; want only app/other", page, err)
		}
		page, err = svc.RevealMany(ctx, "s", &coffer.RevealQuery{Names: []string{"app/db", "app/other"}})
		if err != nil || len(page.Values) != 1 || len(page.Missing) != 1 || page.Missing[0] != "app/db" {
			t.Fatalf("RevealMany by name: got %+v, %v; want app/db missing", page, err)
		}
	})
	t.Run("History", func(t *testing.T) {
		vs, err := svc.Versions(ctx, "s", "app/db")
		if err != nil || len(vs) != 3 {
			t.Fatalf("Versions: got %d, %v; want 3", len(vs), err)
		}
		for _, v := range vs {
			if (v.DeletedAt != nil) != (v.Number >= 2) {
				t.Fatalf("Versions: version %d deleted at %v, want only 2 and 3 deleted", v.Number, v.DeletedAt)
			}
		}
	})
	t.Run("Rollback", func(t *testing.T) {
		if _, err := svc.Rollback(ctx, "s", "app/db", 2, 0); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("Rollback to a deleted version: got %v, want ENOTFOUND", err)
		}
	})

	if _, err := svc.UndeleteVersions(ctx, "s", "app/db", []int{3}); err != nil {
		t.Fatal(err)
	}
	if ev := lastEvent(t, svc, ctx); ev.Action != "secret.version.undelete" || ev.Outcome != "ok" || !strings.HasSuffix(ev.Reason, "; versions 3") {
		t.Fatalf("audit: got %s %s %q, want secret.version.undelete ok naming version 3", ev.Action, ev.Outcome, ev.Reason)
	}
	t.Run("Undeleted", func(t *testing.T) {
		wantValue(t, svc, ctx, "app/db", 0, "v3")
		wantDeletedVersion(t, svc, ctx, "app/db", 2)
		page, err := svc.RevealMany(ctx, "s", &coffer.RevealQuery{Prefix: "app/"})
		if err != nil || len(page.Values) != 2 {
			t.Fatalf("RevealMany: got %+v, %v; want 2 values", page, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, ns := range [][]int{nil, {}, {0}, {1, -1}, make([]int, 1001)} {
			for i := range ns {
				if len(ns) > 2 {
					ns[i] = i + 1
				}
			}
			if _, err := svc.UndeleteVersions(ctx, "s", "app/db", ns); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Fatalf("UndeleteVersions(%d numbers): got %v, want EINVALID", len(ns), err)
			}
			if len(ns) == 0 {
				continue // DeleteVersions of no number deletes the latest (TestDeleteLatestVersion)
			}
			if _, err := svc.DeleteVersions(ctx, "s", "app/db", ns); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Fatalf("DeleteVersions(%d numbers): got %v, want EINVALID", len(ns), err)
			}
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := svc.DeleteVersions(ctx, "s", "nope", []int{1}); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("DeleteVersions of a missing secret: got %v, want ENOTFOUND", err)
		}
		gone := putValues(t, svc, ctx, "s", "gone", "g1")
		if _, err := svc.DeleteSecret(ctx, "s", "gone", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.UndeleteVersions(ctx, "s", gone.ID, []int{1}); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("UndeleteVersions of a deleted secret: got %v, want ENOTFOUND", err)
		}
	})
	t.Run("Scopes", func(t *testing.T) {
		writer := scoped(t, svc, ctx, coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionWrite, coffer.ActionReveal}})
		_, err := svc.DeleteVersions(writer, "s", "app/db", []int{1})
		wantRefusal(t, svc, ctx, err, "secret.version.delete", "app/db", "no scope grants delete")
		if _, err := svc.UndeleteVersions(writer, "s", "app/db", []int{2}); err != nil {
			t.Fatalf("UndeleteVersions with write: %v", err)
		}
		deleter := scoped(t, svc, ctx, coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionDelete}})
		_, err = svc.UndeleteVersions(deleter, "s", "app/db", []int{1})
		wantRefusal(t, svc, ctx, err, "secret.version.undelete", "app/db", "no scope grants write")
		if _, err := svc.DeleteVersions(deleter, "s", "app/db", []int{1}); err != nil {
			t.Fatalf("DeleteVersions with delete: %v", err)
		}
		wantDeletedVersion(t, svc, ctx, "app/db", 1)
	})
}

func TestPutSecretNoValue(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	sec, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/pending", NoValue: true, Labels: map[string]string{"team": "core"}})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Status != coffer.StatusPending || sec.Version != 0 || sec.Labels["team"] != "core" {
		t.Fatalf("PutSecret NoValue: got %s v%d labels %v, want pending v0 with its labels", sec.Status, sec.Version, sec.Labels)
	}
	if ev := lastEvent(t, svc, ctx); ev.Action != "secret.create" || ev.Outcome != "ok" || ev.SecretID != sec.ID {
		t.Fatalf("audit: got %s %s %q, want secret.create ok %q", ev.Action, ev.Outcome, ev.SecretID, sec.ID)
	}
	if vs, err := svc.Versions(ctx, "s", "app/pending"); err != nil || len(vs) != 0 {
		t.Fatalf("Versions: got %d, %v; want none", len(vs), err)
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/pending", NoValue: true}); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("NoValue over a live secret: got %v, want ECONFLICT", err)
	}
	if ev := lastEvent(t, svc, ctx); ev.Action != "secret.create" || ev.Outcome != coffer.ECONFLICT {
		t.Fatalf("audit: got %s %s, want secret.create ECONFLICT", ev.Action, ev.Outcome)
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/x", NoValue: true, Value: []byte("v")}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("NoValue with a value: got %v, want EINVALID", err)
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: strings.Repeat("ab", 16), NoValue: true}); coffer.ErrorCode(err) != coffer.EINVALID ||
		!strings.Contains(coffer.ErrorMessage(err), "shape of an id") {
		t.Fatalf("NoValue with a name of an id's shape: got %v, want EINVALID saying why", err)
	}
	// A later write gives the pending secret its first version.
	if sec, err = svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/pending", Value: []byte("v1")}); err != nil || sec.Version != 1 || sec.Status != coffer.StatusActive {
		t.Fatalf("write to the pending secret: got %+v, %v; want active v1", sec, err)
	}
	// In a batch, too.
	out, err := svc.PutSecrets(ctx, "s", &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{{Name: "app/b1", NoValue: true}, {Name: "app/b2", Value: []byte("b")}}})
	if err != nil || len(out) != 2 || out[0].Status != coffer.StatusPending || out[1].Version != 1 {
		t.Fatalf("PutSecrets with NoValue: got %v, %v; want one pending, one at v1", out, err)
	}
}

func TestPutSecretKeepVersions(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	putValues(t, svc, ctx, "s", "app/db", "v1", "v2")
	wantValue(t, svc, ctx, "app/db", 1, "v1") // cached
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/db", Value: []byte("v3"), KeepVersions: 2}); err != nil {
		t.Fatal(err)
	}
	if ev := lastEvent(t, svc, ctx); ev.Action != "secret.write" || !strings.Contains(ev.Reason, "keep 2 versions") {
		t.Fatalf("audit: got %s %q, want secret.write saying it keeps 2 versions", ev.Action, ev.Reason)
	}
	if _, err := svc.Reveal(ctx, "s", "app/db", 1); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("Reveal of a version beyond KeepVersions: got %v, want ENOTFOUND", err)
	}
	wantValue(t, svc, ctx, "app/db", 2, "v2")
	vs, err := svc.Versions(ctx, "s", "app/db")
	if err != nil || len(vs) != 3 || vs[2].DestroyedAt == nil || vs[1].DestroyedAt != nil {
		t.Fatalf("Versions: got %d, %v; want 3 with version 1 destroyed", len(vs), err)
	}
	// A batch keeps versions as well.
	if _, err := svc.PutSecrets(ctx, "s", &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{{Name: "app/db", Value: []byte("v4"), KeepVersions: 1}}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 3} {
		if _, err := svc.Reveal(ctx, "s", "app/db", n); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("Reveal(%d) after a batch keeping 1: got %v, want ENOTFOUND", n, err)
		}
	}
	wantValue(t, svc, ctx, "app/db", 0, "v4")
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/db", Value: []byte("v"), KeepVersions: -1}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("KeepVersions -1: got %v, want EINVALID", err)
	}
}

func TestPutSecretDeleteVersionAfter(t *testing.T) {
	clk := svctest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	svc, ctx := mustOpenServiceClock(t, clk)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	putValues(t, svc, ctx, "s", "app/db", "v1")
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/db", Value: []byte("v2"), DeleteVersionAfter: time.Hour}); err != nil {
		t.Fatal(err)
	}
	vs, err := svc.Versions(ctx, "s", "app/db")
	if err != nil || vs[0].DeletedAt == nil || !vs[0].DeletedAt.Equal(clk.Now().Add(time.Hour)) || vs[1].DeletedAt != nil {
		t.Fatalf("Versions: got %v; want version 2 deleted at %v", err, clk.Now().Add(time.Hour))
	}
	wantValue(t, svc, ctx, "app/db", 0, "v2")
	page, err := svc.RevealMany(ctx, "s", &coffer.RevealQuery{Names: []string{"app/db"}})
	if err != nil || len(page.Values) != 1 {
		t.Fatalf("RevealMany before the deletion: got %+v, %v; want the value", page, err)
	}
	clk.Add(time.Hour)
	// The cached read is refused once its time has come.
	wantDeletedVersion(t, svc, ctx, "app/db", 0)
	wantDeletedVersion(t, svc, ctx, "app/db", 2)
	wantValue(t, svc, ctx, "app/db", 1, "v1")
	page, err = svc.RevealMany(ctx, "s", &coffer.RevealQuery{Names: []string{"app/db"}})
	if err != nil || len(page.Values) != 0 || len(page.Missing) != 1 {
		t.Fatalf("RevealMany after the deletion: got %+v, %v; want it missing", page, err)
	}
	if _, err := svc.UndeleteVersions(ctx, "s", "app/db", []int{2}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, svc, ctx, "app/db", 0, "v2")
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/db", Value: []byte("v"), DeleteVersionAfter: -time.Second}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("DeleteVersionAfter < 0: got %v, want EINVALID", err)
	}
}

// TestDeleteLatestVersion checks that DeleteVersions with no number
// deletes the latest version, for a caller that may only delete (Vault's
// DELETE data/NAME needs no read), and leaves a pending secret alone.
func TestDeleteLatestVersion(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	putValues(t, svc, ctx, "s", "app/db", "v1", "v2")
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/pending", NoValue: true}); err != nil {
		t.Fatal(err)
	}
	deleter := *coffer.CallerFrom(ctx)
	deleter.Admin, deleter.Operator = false, false
	deleter.Scopes = []coffer.Scope{{Store: "s", Actions: []coffer.Action{coffer.ActionDelete}}}
	dctx := coffer.NewContext(ctx, &deleter)

	if _, err := svc.DeleteVersions(dctx, "s", "app/db", nil); err != nil {
		t.Fatalf("DeleteVersions(latest) with delete only: %v", err)
	}
	wantDeletedVersion(t, svc, ctx, "app/db", 2)
	wantValue(t, svc, ctx, "app/db", 1, "v1")
	if sec, err := svc.DeleteVersions(dctx, "s", "app/pending", nil); err != nil || sec.Version != 0 {
		t.Fatalf("DeleteVersions(latest) of a pending secret: got %+v, %v; want it unchanged", sec, err)
	}
	if _, err := svc.UndeleteVersions(dctx, "s", "app/db", []int{2}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("UndeleteVersions with delete only: got %v, want EFORBIDDEN", err)
	}
}
