package modelmanager

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

func statefulVersion() *Version {
	return &Version{info: &device.ModelInfo{Inputs: []device.TensorInfo{{Name: "x", DType: device.Float32, Shape: []int64{-1, 4}}}},
		mod: &Model{cfg: config.Model{Stateful: true}}}
}

func xInput(batch int64) tensor.Input {
	return tensor.Input{Name: "x", DType: device.Float32, Shape: tensor.Shape{batch, 4}, Values: tensor.Numbers[float32](make([]float32, 4*batch))}
}

func idInput(v tensor.Values, dt device.DataType, shape ...int64) tensor.Input {
	return tensor.Input{Name: SequenceIDName, DType: dt, Shape: shape, Values: v}
}

func ctlInput(c uint32) tensor.Input {
	return tensor.Input{Name: SequenceControlName, DType: device.Uint32, Shape: tensor.Shape{1}, Values: tensor.Numbers[uint32]{c}}
}

// TestTakeSequence checks the core's checks of a stateful request in
// OVMS's order and messages, and that the special inputs are stripped.
func TestTakeSequence(t *testing.T) {
	id := func(n uint64) tensor.Input { return idInput(tensor.Numbers[uint64]{n}, device.Uint64, 1) }
	cases := []struct {
		name string
		req  tensor.Request
		code apierr.Code
		msg  string
		want tensor.Sequence
	}{
		{"start", tensor.Request{Inputs: []tensor.Input{xInput(1), id(9), ctlInput(1)}}, 0, "", tensor.Sequence{ID: 9, Control: 1}},
		{"continue", tensor.Request{Inputs: []tensor.Input{id(9), xInput(1)}}, 0, "", tensor.Sequence{ID: 9}},
		{"start without id", tensor.Request{Inputs: []tensor.Input{xInput(1), ctlInput(1)}}, 0, "", tensor.Sequence{Control: 1}},
		{"no id", tensor.Request{Inputs: []tensor.Input{xInput(1), ctlInput(2)}}, apierr.SequenceIDNotProvided, "Sequence ID has not been provided in request inputs", tensor.Sequence{}},
		{"bad control", tensor.Request{Inputs: []tensor.Input{xInput(1), id(9), ctlInput(3)}}, apierr.InvalidSequenceControlInput, "Unexpected value of sequence control input", tensor.Sequence{}},
		{"id as uint32", tensor.Request{Inputs: []tensor.Input{xInput(1), idInput(tensor.Numbers[uint32]{9}, device.Uint32, 1)}}, apierr.SequenceIDBadType, "Could not find sequence id in expected tensor proto field uint64_val", tensor.Sequence{}},
		{"id without shape", tensor.Request{Inputs: []tensor.Input{xInput(1), idInput(tensor.Numbers[uint64]{9}, device.Uint64)}}, apierr.SpecialInputNoTensorShape, "Special input proto does not contain tensor shape information", tensor.Sequence{}},
		{"id of shape (2)", tensor.Request{Inputs: []tensor.Input{xInput(1), idInput(tensor.Numbers[uint64]{9, 9}, device.Uint64, 2)}}, apierr.InvalidShape, "Invalid input shape - Required shape for sequence_id is: (1)", tensor.Sequence{}},
		{"too many inputs", tensor.Request{Inputs: []tensor.Input{xInput(1), xInput(1), id(9)}}, apierr.InvalidNoOfInputs, "Invalid number of inputs - Expected: 2; Actual: 3", tensor.Sequence{}},
		{"batch 2", tensor.Request{Inputs: []tensor.Input{xInput(2), id(9)}}, apierr.InvalidBatchSize, "Invalid input batch size - Expected: 1; Actual: 2; input name: x; a request of a stateful model carries one sequence", tensor.Sequence{}},
		{"TFS raw id refused", tensor.Request{Inputs: []tensor.Input{xInput(1), {Name: SequenceIDName, DType: device.Uint64, Shape: tensor.Shape{1}, HasRaw: true, Raw: binary.LittleEndian.AppendUint64(nil, 9)}}}, apierr.SequenceIDBadType, "Could not find sequence id in expected tensor proto field uint64_val", tensor.Sequence{}},
		{"KServe raw id", tensor.Request{API: tensor.KServe, Inputs: []tensor.Input{xInput(1), {Name: SequenceIDName, DType: device.Uint64, Shape: tensor.Shape{1}, HasRaw: true, Raw: binary.LittleEndian.AppendUint64(nil, 9)}}}, 0, "", tensor.Sequence{ID: 9}},
		{"Triton parameters", tensor.Request{API: tensor.KServe, Inputs: []tensor.Input{xInput(1)}, Sequence: &tensor.Sequence{ID: 4, Control: 3}}, 0, "", tensor.Sequence{ID: 4, Control: 3}},
		{"special inputs win over parameters", tensor.Request{API: tensor.KServe, Inputs: []tensor.Input{xInput(1), id(8)}, Sequence: &tensor.Sequence{ID: 4, Control: 1}}, 0, "", tensor.Sequence{ID: 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			err := statefulVersion().takeSequence(&req)
			if c.code != 0 {
				var ae *apierr.Error
				if !errors.As(err, &ae) || ae.Code != c.code || ae.Error() != c.msg {
					t.Fatalf("got %v, want %q", err, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Sequence == nil || *req.Sequence != c.want {
				t.Fatalf("sequence %+v, want %+v", req.Sequence, c.want)
			}
			if len(req.Inputs) != 1 || req.Inputs[0].Name != "x" {
				t.Fatalf("inputs left %+v", req.Inputs)
			}
		})
	}
}

// TestSequenceErrorsCrossTheBoundary: a plugin's sequence error, sent as a
// gRPC status, becomes OVMS's status in the core.
func TestSequenceErrorsCrossTheBoundary(t *testing.T) {
	for se, code := range map[device.SequenceError]apierr.Code{
		device.SequenceMissing: apierr.SequenceMissing, device.SequenceExists: apierr.SequenceAlreadyExists,
		device.SequenceTerminated: apierr.SequenceTerminated, device.SequenceLimit: apierr.MaxSequenceNumberReached,
	} {
		wire := se.GRPCStatus().Err() // as the channel carries it: code and message
		var ae *apierr.Error
		if err := pluginError(wire); !errors.As(err, &ae) || ae.Code != code || ae.Error() != se.Error() {
			t.Errorf("%v: %v", se, err)
		}
	}
}
