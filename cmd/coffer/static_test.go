package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStaticBuild builds the binary the way the Dockerfile does (CGO off,
// -trimpath) and checks that it is static, so that it runs on distroless
// or scratch, and that it starts.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The Dockerfile must still build this way.
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "CGO_ENABLED=0 go build -trimpath") {
		t.Error("the Dockerfile no longer builds with CGO_ENABLED=0 go build -trimpath; update this test with it")
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("binary has a %v program header: it is dynamically linked", p.Type)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("binary imports shared libraries %v", libs)
		}
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "doctor") || !strings.Contains(string(out), "server") {
		t.Fatalf("coffer help: %v\n%s", err, out)
	}
	// It runs the server, too: doctor reads a configuration and checks.
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command(bin, "doctor", "--data", data).CombinedOutput()
	if !strings.Contains(string(out), "ok    data dir") {
		t.Fatalf("coffer doctor: %s", out)
	}
}
