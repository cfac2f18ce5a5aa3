package irtoonnx

import (
	"slices"
	"strings"
)

// Translator adds the ONNX nodes for the layer c describes and binds its
// outputs with c.Set.
type Translator func(c *Ctx) error

// Op is one registry entry as the documentation shows it.
type Op struct {
	// Type is the IR operation type ("Convolution").
	Type string
	// Versions are the opsets whose version of the op is translated
	// ("opset1", "opset8").
	Versions []string
	// ONNX names the ONNX operators it becomes.
	ONNX string
	// Notes says what is not covered or how it is done.
	Notes string
}

type entry struct {
	Op
	fn Translator
}

var registry = map[string]*entry{}

// register adds a translator for typ in each of versions. Called from the
// init functions of the op family files.
func register(typ string, versions []string, onnx, notes string, fn Translator) {
	for _, v := range versions {
		key := typ + "-" + v
		if registry[key] != nil {
			panic("irtoonnx: " + key + " registered twice")
		}
		registry[key] = &entry{Op: Op{Type: typ, Versions: versions, ONNX: onnx, Notes: notes}, fn: fn}
	}
}

func lookup(typ, version string) (Translator, bool) {
	if e := registry[typ+"-"+version]; e != nil {
		return e.fn, true
	}
	return nil, false
}

// Coverage lists every translated op once, sorted by type then first
// version.
func Coverage() []Op {
	seen := map[*entry]bool{}
	var ops []Op
	for _, e := range registry {
		if !seen[e] {
			seen[e] = true
			ops = append(ops, e.Op)
		}
	}
	slices.SortFunc(ops, func(a, b Op) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Versions[0], b.Versions[0])
	})
	return ops
}

// opsets is a shorthand for version lists: opsets(1, 8) = opset1, opset8.
func opsets(ns ...int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = "opset" + itoa(n)
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
