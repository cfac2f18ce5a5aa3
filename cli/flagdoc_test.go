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
	checkDocTable(t, filepath.Join("..", "docs", "configuration.md"), flagTableBegin, flagTableEnd, flagTable(),
		"the flags table", "cli/flags.go", "TestFlagTableInDocs")
}

// checkDocTable checks that the text between the lines begin and end of
// the doc at path is want, or rewrites it with -update. what names the
// table and source where it comes from, in the failure; test is the test
// to run with -update.
func checkDocTable(t *testing.T, path, begin, end, want, what, source, test string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i := strings.Index(doc, begin+"\n")
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the lines %q and %q around %s", path, begin, end, what)
	}
	i += len(begin) + 1
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
			t.Fatalf("%s: %s differs from %s (run go test ./cli -run %s -update)\nline %d is  %s\n%s has %s", path, what, source, test, n+1, have, source, line)
		}
	}
	t.Fatalf("%s: %s has more lines than %s gives (run go test ./cli -run %s -update)", path, what, source, test)
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
