package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated tables of docs/configuration.md (flags) and docs/openvino-ir.md (IR ops)")

// TestFlagTableInDocs: the flags table of docs/configuration.md is the one
// flagTable builds from serveFlags (the help's text and defaults). Run with
// -update after changing a flag to rewrite it.
func TestFlagTableInDocs(t *testing.T) {
	path := filepath.Join("..", "docs", "configuration.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i := strings.Index(doc, flagTableBegin+"\n")
	j := strings.Index(doc, flagTableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the lines %q and %q around the flags table", path, flagTableBegin, flagTableEnd)
	}
	i += len(flagTableBegin) + 1
	want := flagTable()
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
			t.Fatalf("%s: the flags table differs from cli/flags.go (run go test ./cli -run TestFlagTableInDocs -update)\nline %d is  %s\nflags.go has %s", path, n+1, have, line)
		}
	}
	t.Fatalf("%s: the flags table has more lines than cli/flags.go gives (run go test ./cli -run TestFlagTableInDocs -update)", path)
}

// TestFlagTableCoversEveryFlag: each server flag has one row, and rows
// stay single lines.
func TestFlagTableCoversEveryFlag(t *testing.T) {
	table := flagTable()
	for _, f := range serveFlags() {
		if n := strings.Count(table, "| `--"+f.Names()[0]+"` |"); n != 1 {
			t.Errorf("--%s has %d rows", f.Names()[0], n)
		}
	}
	if strings.Count(table, "\n") != len(serveFlags())+2 {
		t.Errorf("a usage spans lines:\n%s", table)
	}
}
