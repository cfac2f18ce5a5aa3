package cli

import (
	"path/filepath"
	"testing"
)

// TestOpTableInDocs: the op coverage table of docs/openvino-ir.md is the
// one opTable builds from the translator's registry. Run with -update after
// adding or changing a translator to rewrite it.
func TestOpTableInDocs(t *testing.T) {
	checkDocTable(t, filepath.Join("..", "docs", "openvino-ir.md"), opTableBegin, opTableEnd, opTable(),
		"the op table", "the translator's registry", "TestOpTableInDocs")
}
