package coffer_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityDoc checks that every test SECURITY.md names as the proof of
// a claim exists in a file its table row names, so that the threat model
// cannot point at a test that was renamed or removed.
func TestSecurityDoc(t *testing.T) {
	doc, err := os.ReadFile("SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	fileRE := regexp.MustCompile("`([a-z0-9_./]+_test\\.go)`")
	testRE := regexp.MustCompile(`\bTest[A-Za-z0-9_]+`)
	var proofs int
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		var files []string
		for _, m := range fileRE.FindAllStringSubmatch(line, -1) {
			p := m[1]
			if !strings.Contains(p, "/") {
				p = filepath.Join("cmd", "coffer", p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("SECURITY.md names %s: %v", m[1], err)
				continue
			}
			files = append(files, string(b))
		}
		for _, name := range testRE.FindAllString(line, -1) {
			proofs++
			found := false
			for _, f := range files {
				found = found || strings.Contains(f, "\nfunc "+name+"(")
			}
			if !found {
				t.Errorf("SECURITY.md names %s, which is not in the files of its row: %s", name, line)
			}
		}
	}
	if proofs < 20 {
		t.Errorf("SECURITY.md names %d tests, want the proofs of its claims", proofs)
	}
}
