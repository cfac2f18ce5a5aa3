package tensor

import (
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

// TestValidateAliases checks that an input named by one of its aliases is
// found and renamed to the served name, and that the served name wins.
func TestValidateAliases(t *testing.T) {
	model := []device.TensorInfo{
		{Name: "input", DType: device.Float32, Shape: []int64{1, 2}, Aliases: []string{"input:0", "x"}},
		{Name: "b", DType: device.Float32, Shape: []int64{1}},
	}
	in := func(name string, shape ...int64) Input {
		n := Shape(shape).Elements()
		return Input{Name: name, DType: device.Float32, DTypeName: "FP32", Shape: shape, Raw: make([]byte, 4*n), HasRaw: true}
	}
	req := &Request{API: KServe, Inputs: []Input{in("b", 1), in("input:0", 1, 2)}}
	if err := Validate(model, req); err != nil {
		t.Fatal(err)
	}
	if req.Inputs[1].Name != "input" {
		t.Errorf("alias input renamed to %q, want input", req.Inputs[1].Name)
	}
	// An unknown name still fails with the served name in the message.
	req = &Request{API: KServe, Inputs: []Input{in("b", 1), in("input:1", 1, 2)}}
	if err := Validate(model, req); err == nil || !strings.Contains(err.Error(), "Required input: input") {
		t.Errorf("unknown name: %v", err)
	}
	// The same input named twice (name and alias): the other is missing.
	req = &Request{API: KServe, Inputs: []Input{in("input", 1, 2), in("x", 1, 2)}}
	if err := Validate(model, req); err == nil || !strings.Contains(err.Error(), "Required input: b") {
		t.Errorf("twice: %v", err)
	}
}
