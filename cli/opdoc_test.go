package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpTableInDocs: the op coverage table of docs/openvino-ir.md is the
// one opTable builds from the translator's registry. Run with -update after
// adding or changing a translator to rewrite it.
func TestOpTableInDocs(t *testing.T) {
	path := filepath.Join("..", "docs", "openvino-ir.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i := strings.Index(doc, opTableBegin+"\n")
	j := strings.Index(doc, opTableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the lines %q and %q around the op table", path, opTableBegin, opTableEnd)
	}
	i += len(opTableBegin) + 1
	want := opTable()
	if doc[i:j] == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got := strings.Split(doc[i:j], "\n")
	for n, line := range strings.Split(want, "\n") {
		if n >= len(got) || got[n] != line {
			have := "(none)"
			if n < len(got) {
				have = got[n]
			}
			t.Fatalf("%s: the op table differs from the translator's registry (run go test ./cli -run TestOpTableInDocs -update)\nline %d is  %s\nregistry has %s", path, n+1, have, line)
		}
	}
	t.Fatalf("%s: the op table has more lines than the registry gives (run go test ./cli -run TestOpTableInDocs -update)", path)
}
