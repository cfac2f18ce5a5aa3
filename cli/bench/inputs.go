package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
)

// TensorInfo describes a model input or output as its metadata gives it
// (dynamic dims are -1) or, in a Report, as the benchmark sent it.
type TensorInfo struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	// Bytes is the size of the tensor's data in a request (reports only).
	Bytes int `json:"bytes,omitempty"`
}

// inputTensor is one input with its data: raw little-endian elements or,
// for BYTES, the elements.
type inputTensor struct {
	TensorInfo
	dt   dtype
	raw  []byte
	strs [][]byte
}

// elements is the number of elements of shape.
func elements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// kserveRaw is the tensor in KServe raw_input_contents layout: the bytes,
// or for BYTES each element after its 4-byte little-endian length.
func (t *inputTensor) kserveRaw() []byte {
	if t.dt.name != "BYTES" {
		return t.raw
	}
	n := 0
	for _, s := range t.strs {
		n += 4 + len(s)
	}
	out := make([]byte, 0, n)
	for _, s := range t.strs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	return out
}

// resolveShape fills the dynamic dims of a metadata shape from the --shape
// override (which must agree with every static dim) or with 1.
func resolveShape(in TensorInfo, overrides map[string][]int64) ([]int64, error) {
	shape := slices.Clone(in.Shape)
	if o, ok := overrides[in.Name]; ok {
		if len(o) != len(shape) {
			return nil, fmt.Errorf("shape of input %s: %v has rank %d, the model's %v has rank %d", in.Name, o, len(o), in.Shape, len(shape))
		}
		for i, d := range shape {
			if d >= 0 && d != o[i] {
				return nil, fmt.Errorf("shape of input %s: %v disagrees with the model's %v at dim %d", in.Name, o, in.Shape, i)
			}
		}
		return slices.Clone(o), nil
	}
	for i, d := range shape {
		if d < 0 {
			shape[i] = 1
		}
	}
	return shape, nil
}

// makeInputs builds the data of every input of the model from cfg: shapes,
// then random, zero or file data.
func makeInputs(cfg Config, specs []TensorInfo) ([]*inputTensor, error) {
	for name := range cfg.Shapes {
		if !slices.ContainsFunc(specs, func(s TensorInfo) bool { return s.Name == name }) {
			return nil, fmt.Errorf("--shape names %q, which is not an input of the model", name)
		}
	}
	var files map[string]string
	var jsonData map[string]jsonValues
	switch src := cfg.InputData; {
	case src == "random" || src == "zero":
	case strings.HasSuffix(strings.ToLower(src), ".json"):
		var err error
		if jsonData, err = readJSONData(src); err != nil {
			return nil, err
		}
	default:
		var err error
		if files, err = rawFiles(src, specs); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x0b5e))
	out := make([]*inputTensor, len(specs))
	for i, s := range specs {
		dt, err := lookupDType(s.Datatype)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", s.Name, err)
		}
		shape, err := resolveShape(s, cfg.Shapes)
		if err != nil {
			return nil, err
		}
		t := &inputTensor{TensorInfo: TensorInfo{Name: s.Name, Datatype: s.Datatype, Shape: shape}, dt: dt}
		n := elements(shape)
		switch {
		case jsonData != nil:
			v, ok := jsonData[s.Name]
			if !ok {
				return nil, fmt.Errorf("input data file %s has no input %q", cfg.InputData, s.Name)
			}
			if err := v.fill(t, n); err != nil {
				return nil, fmt.Errorf("input data file %s: input %s: %w", cfg.InputData, s.Name, err)
			}
		case files != nil:
			if err := readRaw(t, files[s.Name], n); err != nil {
				return nil, err
			}
		default:
			fillGenerated(t, n, cfg.InputData == "random", cfg.StringLength, rng)
		}
		t.Bytes = len(t.kserveRaw())
		out[i] = t
	}
	return out, nil
}

// fillGenerated gives t n random (or zero) elements.
func fillGenerated(t *inputTensor, n int64, random bool, strLen int, rng *rand.Rand) {
	if t.dt.name == "BYTES" {
		const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		t.strs = make([][]byte, n)
		for i := range t.strs {
			s := make([]byte, strLen)
			for j := range s {
				s[j] = 'a'
				if random {
					s[j] = letters[rng.IntN(len(letters))]
				}
			}
			t.strs[i] = s
		}
		return
	}
	t.raw = make([]byte, n*int64(t.dt.size))
	if !random {
		return
	}
	for off := 0; off < len(t.raw); off += t.dt.size {
		t.dt.randomElement(rng, t.raw[off:])
	}
}

// rawFiles maps input names to raw data files from "name=path,..." or a
// bare path for a model with one input.
func rawFiles(src string, specs []TensorInfo) (map[string]string, error) {
	files := map[string]string{}
	if !strings.Contains(src, "=") {
		if len(specs) != 1 {
			return nil, fmt.Errorf("--input_data %s: the model has %d inputs; give name=path for each", src, len(specs))
		}
		files[specs[0].Name] = src
		return files, nil
	}
	for _, part := range strings.Split(src, ",") {
		name, path, ok := strings.Cut(part, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--input_data %q: want name=path[,name=path]", src)
		}
		files[name] = path
	}
	for _, s := range specs {
		if _, ok := files[s.Name]; !ok {
			return nil, fmt.Errorf("--input_data gives no file for input %s", s.Name)
		}
	}
	return files, nil
}

// readRaw loads t's data from a file of n raw little-endian elements (for
// BYTES, n elements each after a 4-byte little-endian length).
func readRaw(t *inputTensor, path string, n int64) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("input %s: %w", t.Name, err)
	}
	if t.dt.name != "BYTES" {
		if want := n * int64(t.dt.size); int64(len(data)) != want {
			return fmt.Errorf("input %s: %s holds %d bytes, shape %v of %s needs %d", t.Name, path, len(data), t.Shape, t.Datatype, want)
		}
		t.raw = data
		return nil
	}
	for b := data; len(b) > 0; {
		if len(b) < 4 || int(binary.LittleEndian.Uint32(b)) > len(b)-4 {
			return fmt.Errorf("input %s: %s is not a sequence of 4-byte length-prefixed strings", t.Name, path)
		}
		l := int(binary.LittleEndian.Uint32(b))
		t.strs = append(t.strs, b[4:4+l])
		b = b[4+l:]
	}
	if int64(len(t.strs)) != n {
		return fmt.Errorf("input %s: %s holds %d strings, shape %v needs %d", t.Name, path, len(t.strs), t.Shape, n)
	}
	return nil
}
