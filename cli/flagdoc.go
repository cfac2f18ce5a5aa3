package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// The markers around the generated flags table in docs/configuration.md.
const (
	flagTableBegin = "<!-- flags:begin (generated from cli/flags.go: go test ./cli -run TestFlagTableInDocs -update) -->"
	flagTableEnd   = "<!-- flags:end -->"
)

// flagTable is the markdown table of the server flags (name, default,
// meaning), built from the same flags as `ovms --help`: the default column
// is the help's "(default: X)" without quotes, the meaning its usage text.
func flagTable() string {
	var b strings.Builder
	b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
	for _, f := range serveFlags() {
		df, ok := f.(cli.DocGenerationFlag)
		if !ok {
			panic(fmt.Sprintf("flag %v has no help text", f.Names()))
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s |\n", f.Names()[0], cell(helpDefault(df)), cell(df.GetUsage()))
	}
	return b.String()
}

// helpDefault is the default urfave/cli prints in the help, unquoted.
func helpDefault(f cli.DocGenerationFlag) string {
	d := f.GetDefaultText()
	if u, err := strconv.Unquote(d); err == nil {
		return u
	}
	return d
}

// cell escapes the characters that would end a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
