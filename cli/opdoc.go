package cli

// This file builds the op coverage table of docs/openvino-ir.md from the
// translator's registry (irtoonnx.Coverage).

import (
	"fmt"
	"strings"

	"github.com/ovmsgo/ovms/devices/irtoonnx"
)

// The markers around the generated op table in docs/openvino-ir.md.
const (
	opTableBegin = "<!-- ops:begin (generated from devices/irtoonnx: go test ./cli -run TestOpTableInDocs -update) -->"
	opTableEnd   = "<!-- ops:end -->"
)

// opTable is the markdown table of the IR ops ovms translates: op,
// versions, the ONNX operators it becomes, notes.
func opTable() string {
	var b strings.Builder
	ops := irtoonnx.Coverage()
	fmt.Fprintf(&b, "%d ops (plus Parameter, Result and Const, which every model has).\n\n", len(ops))
	b.WriteString("| op | versions | ONNX | notes |\n|---|---|---|---|\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(op.Type), cell(strings.Join(op.Versions, ", ")), cell(op.ONNX), cell(strings.ReplaceAll(op.Notes, "\n", " ")))
	}
	return b.String()
}
