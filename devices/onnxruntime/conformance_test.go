package onnxruntime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Tolerances of the comparison of floating-point outputs.
const (
	conformanceRtol = 1e-3
	conformanceAtol = 1e-5
	// conformanceMinPassed is the acceptance bar on the 932 node tests of
	// libonnx-testdata 1.12 (the design measured 854 with a thin binding).
	conformanceMinPassed = 850
)

// TestConformance runs every ONNX node test of libonnx-testdata through the
// binding and compares the outputs with the expected ones. A test fails when
// a node test not in expectedFailures fails, or when one listed passes.
func TestConformance(t *testing.T) {
	initLib(t)
	dirs, err := filepath.Glob(nodeTestDir(t, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no node tests in %s (%v): apt-get install libonnx-testdata", nodeTests, err)
	}
	// ORT warns about old opsets and logs load errors; the subtests report them.
	SetLogHandler(func(LogLevel, string, string, string) {})
	t.Cleanup(func() { SetLogHandler(nil) })
	expected := expectedFailuresHere()
	seen := map[string]bool{}
	passed, failedAsExpected := 0, 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			err := runNodeTest(dir)
			reason, listed := expected[name]
			switch {
			case err == nil && listed:
				passed++
				t.Errorf("passes, but expectedFailures lists it (%s): remove it from the list", reason)
			case err == nil:
				passed++
			case listed:
				failedAsExpected++
				t.Skipf("expected failure (%s): %v", reason, err)
			default:
				t.Error(err)
			}
		})
	}
	for name := range expected {
		if !seen[name] {
			t.Errorf("expectedFailures lists %s, which is not a node test in %s", name, nodeTests)
		}
	}
	t.Logf("passed %d of %d (%d expected failures)", passed, len(dirs), failedAsExpected)
	if passed < conformanceMinPassed {
		t.Errorf("passed %d of %d node tests, want at least %d", passed, len(dirs), conformanceMinPassed)
	}
}

// runNodeTest runs one node test folder: model.onnx and every
// test_data_set_N/{input,output}_M.pb.
func runNodeTest(dir string) error {
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return err
	}
	s, err := NewSession(model, SessionOptions{IntraOpThreads: 1})
	if err != nil {
		return err
	}
	defer s.Close()
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return errors.New("no test_data_set_*")
	}
	for _, set := range sets {
		if err := runDataSet(s, set); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(set), err)
		}
	}
	return nil
}

func runDataSet(s *Session, set string) error {
	inputs := s.Inputs()
	var names []string
	var values []*Value
	defer func() {
		for _, v := range values {
			v.Close()
		}
	}()
	for i := 0; ; i++ {
		td, err := readTensorPB(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		// By name, else by position.
		j := slices.IndexFunc(inputs, func(ti TensorInfo) bool { return ti.Name == td.name })
		if j < 0 && i < len(inputs) {
			j = i
		}
		if j < 0 {
			return fmt.Errorf("input_%d.pb (%q) matches no model input", i, td.name)
		}
		name := inputs[j].Name
		bfloat16AsUint16(td, inputs[j].Type)
		v, err := td.value()
		if err != nil {
			return fmt.Errorf("input %q: %w", name, err)
		}
		names = append(names, name)
		values = append(values, v)
	}
	var outNames []string
	for _, ti := range s.Outputs() {
		outNames = append(outNames, ti.Name)
	}
	outs := make([]*Value, len(outNames))
	if err := s.Run(names, values, outNames, outs); err != nil {
		return err
	}
	defer func() {
		for _, v := range outs {
			v.Close()
		}
	}()
	for i, name := range outNames {
		want, err := readTensorPB(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
		bfloat16AsUint16(want, outs[i].Type())
		if err := compareValue(want, outs[i], conformanceRtol, conformanceAtol); err != nil {
			return fmt.Errorf("output %q: %w", name, err)
		}
	}
	return nil
}

// bfloat16AsUint16 retypes test data that the ONNX 1.12 generator stored as
// UINT16 because numpy has no bfloat16: the bytes are bfloat16 values.
func bfloat16AsUint16(td *tensorData, modelType ElementType) {
	if td.typ == Uint16 && modelType == BFloat16 {
		td.typ = BFloat16
	}
}
