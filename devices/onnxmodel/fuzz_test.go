package onnxmodel

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// fuzzSeeds are the project's generated test models (the graphs of
// scripts/testmodels, built here the same way) plus a convolution, as
// serialized ONNX files.
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	addOne := func(name, in, out string, dims ...int64) *Graph {
		g := NewGraph(name)
		x := g.Input(in, Float32, dims...)
		ones := make([]int64, len(dims))
		for i := range ones {
			ones[i] = 1
		}
		one := g.Constant(Float32Tensor("one", ones, []float32{1}))
		g.Output(g.NamedNode("Add", out, []Value{x, one}), out, Float32, dims...)
		return g
	}
	identity := func(name, in, out string, t DataType, dims ...int64) *Graph {
		g := NewGraph(name)
		g.Output(g.Input(in, t, dims...), out, t, dims...)
		return g
	}
	two := NewGraph("add_two_inputs")
	two.Output(two.NamedNode("Add", "sum", []Value{two.Input("input1", Float32, 1, 10), two.Input("input2", Float32, 1, 10)}), "sum", Float32, 1, 10)
	conv := NewGraph("conv")
	cx := conv.Input("input", Float32, -1, 3, 8, 8)
	w := conv.Constant(UniformFloat32Tensor("w", []int64{4, 3, 3, 3}, 1, 0.1))
	conv.Output(conv.NamedNode("Conv", "output", []Value{cx, w}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1)), "output", Float32, -1, 4, 8, 8)
	graphs := []*Graph{
		addOne("dummy", "b", "a", 1, 10),
		two,
		addOne("increment_1x3x4x5", "input", "output", 1, 3, 4, 5),
		identity("passthrough_u8", "input", "copy:0", Uint8, -1, -1),
		identity("scalar", "model_scalar_input", "model_scalar_output", Float32),
		identity("string_passthrough", "my_name", "my_name", String, -1),
		addOne("dummy_dynamic", "b", "a", -1, -1),
		identity("image_nhwc", "image", "pixels", Float32, 1, 4, 4, 3),
		identity("image_any", "image", "pixels", Uint8, -1, -1, -1, 3),
		conv,
	}
	var out [][]byte
	for _, g := range graphs {
		m, err := g.Model(13)
		if err != nil {
			f.Fatal(err)
		}
		data, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// inputShapes is the (non-initializer) graph inputs' names and dims.
func inputShapes(m *onnxpb.ModelProto) (names []string, shapes [][]int64) {
	names, shapes, _ = inputInfo(m)
	return names, shapes
}

// inputInfo is inputShapes plus whether each input is a tensor (only
// tensors have dims to set).
func inputInfo(m *onnxpb.ModelProto) (names []string, shapes [][]int64, tensor []bool) {
	inits := map[string]bool{}
	for _, t := range m.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, in := range m.GetGraph().GetInput() {
		if !inits[in.GetName()] {
			names = append(names, in.GetName())
			shapes = append(shapes, dims(in))
			tensor = append(tensor, in.GetType().GetTensorType() != nil)
		}
	}
	return names, shapes, tensor
}

// FuzzModelLoad is what the device plugins do with a model file at load
// time: decode it (Parse) and apply OVMS's shape, batch_size and layout
// settings (ApplyReshape), plus the input edits (SetInputShape,
// ClearOutputShapes). Nothing may panic, and a result must be consistent:
// it parses, the same edit gives the same model, the named inputs have
// the dims asked for, and editing it again with no settings changes no
// input.
func FuzzModelLoad(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, "", []byte{1, 3, 0xff, 0xff}, int64(0), "", "")
		f.Add(seed, "", []byte(nil), int64(4), "", "NHWC:NCHW")
		f.Add(seed, "input", []byte{2, 3, 8, 8}, int64(0), "input", "NCHW")
		f.Add(seed, "b", []byte{0xff, 10}, int64(2), "b", "NC")
		f.Add(seed, "input", []byte{1, 2}, int64(0), "input", "NHWC:NCHW") // a shape of another rank than the layout
	}
	f.Add([]byte{}, "", []byte(nil), int64(1), "", "") // no graph at all
	f.Fuzz(func(t *testing.T, model []byte, shapeInput string, shapeDims []byte, batch int64, layoutInput, layout string) {
		dimsOf := func(b []byte) []int64 {
			d := make([]int64, len(b))
			for i, x := range b {
				d[i] = int64(int8(x)) // small dims, -1 included
			}
			return d
		}
		// Reading the model, and the plain edits.
		if m, err := Parse(model); err == nil {
			if names, _ := inputShapes(m); len(names) > 0 {
				_ = SetInputShape(m, names[0], dimsOf(shapeDims))
			}
			ClearOutputShapes(m)
			if _, err := Marshal(m); err != nil {
				t.Fatalf("an edited model does not marshal: %v", err)
			}
		}

		// The reshape settings, as the plugin gets them.
		r := Reshape{BatchSize: batch}
		if len(shapeDims) > 0 {
			r.Shapes = map[string][]int64{shapeInput: dimsOf(shapeDims)}
		}
		if layout != "" {
			r.Layouts = map[string]string{layoutInput: layout}
		}
		out, err := ApplyReshape(model, r)
		if err != nil {
			return
		}
		again, err := ApplyReshape(model, r)
		if err != nil {
			t.Fatalf("the same reshape failed the second time: %v", err)
		}
		var m1, m2 onnxpb.ModelProto
		if err := proto.Unmarshal(out, &m1); err != nil {
			t.Fatalf("a reshaped model does not parse: %v", err)
		}
		if err := proto.Unmarshal(again, &m2); err != nil || !proto.Equal(&m1, &m2) {
			t.Fatalf("the same reshape gave different models (%v)", err)
		}
		names, shapes, tensor := inputInfo(&m1)
		if want, ok := r.Shapes[shapeInput]; ok && len(r.Layouts) == 0 {
			i := slices.Index(names, shapeInput)
			if shapeInput == "" {
				i = 0 // the only input
			}
			if tensor[i] {
				exp := make([]int64, len(want))
				for j, w := range want {
					exp[j] = -1 // 0 and negative dims are dynamic
					if w > 0 {
						exp[j] = w
					}
				}
				if !slices.Equal(shapes[i], exp) {
					t.Fatalf("input %q has dims %v, want %v", names[i], shapes[i], exp)
				}
			}
		}
		// Applying nothing to the result keeps its inputs.
		plain, err := ApplyReshape(out, Reshape{})
		if err != nil {
			t.Fatalf("a reshaped model cannot be edited again: %v", err)
		}
		var m3 onnxpb.ModelProto
		if err := proto.Unmarshal(plain, &m3); err != nil {
			t.Fatal(err)
		}
		names3, shapes3 := inputShapes(&m3)
		if !slices.Equal(names, names3) || !slices.EqualFunc(shapes, shapes3, slices.Equal[[]int64]) {
			t.Fatalf("an empty reshape changed the inputs: %v %v -> %v %v", names, shapes, names3, shapes3)
		}
	})
}
