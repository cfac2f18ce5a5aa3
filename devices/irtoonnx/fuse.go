package irtoonnx

import (
	"fmt"
	"slices"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// fuseBiases gives a Conv or a Gemm without a bias the constant of the Add
// that alone reads its result, and removes the Add: IR has no bias input
// (an IR Convolution or fully connected MatMul is followed by an Add of a
// [1,C,1,1] or [1,N] constant), ONNX has one. ONNX Runtime makes the same
// fusion when it loads the model (ConvAddFusion, MatMulAddFusion), so what
// runs is unchanged; done here, the load skips that work, which with the
// Transpose a fully connected layer needed made a translated ResNet-50's
// session 40% slower to create than its ONNX twin's.
//
// The bias must be a constant (an initializer, or one decompressed by a
// Cast, as an f16 IR's Const -> Convert is) of the layer's element type
// whose shape only spreads C (the Conv's output channels, its weights'
// first axis) or N (the Gemm's output columns, known from constant
// weights) over the output: [1,C,1,...] or [C,1,...] of the output's rank
// or one less for a Conv, [N] or [1,N] for a Gemm. It is reshaped to [C]
// or [N] in place (the same bytes), or copied to a new initializer when
// another node reads it too (a decompressed one read elsewhere is left
// alone). The layer moves to the Add's place in the node order.
func fuseBiases(g *onnxpb.GraphProto) {
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	readers := map[string]int{}
	names := map[string]bool{}
	countReaders(g, readers, names)
	for _, v := range slices.Concat(g.GetOutput(), g.GetInput()) {
		readers[v.GetName()]++ // read from outside (an output), or set from outside (an input)
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	constants := func(name string) *knownValue { return constantOf(name, inits, producer, readers) }
	// fused maps each Add taken away to the layer that takes its place:
	// there, where everything the Add read is written already (a bias's
	// Cast may come after the layer).
	fused, moved := map[*onnxpb.NodeProto]*onnxpb.NodeProto{}, map[*onnxpb.NodeProto]bool{}
	for _, add := range g.GetNode() {
		if add.GetOpType() != "Add" || add.GetDomain() != "" || len(add.GetInput()) != 2 || len(add.GetOutput()) != 1 {
			continue
		}
		for side := range 2 {
			layer, bias := producer[add.Input[side]], constants(add.Input[1-side])
			if layer == nil || bias == nil || moved[layer] || readers[add.Input[side]] != 1 {
				continue
			}
			size, ok := biasSize(layer, bias, constants)
			if !ok {
				continue
			}
			name := add.Input[1-side]
			switch {
			case bias.cast != nil && (readers[name] > 1 || readers[bias.t.GetName()] > 1):
				continue // a decompressed constant read elsewhere too: left as it is
			case bias.cast == nil && readers[name] > 1:
				readers[name]-- // the Add no longer reads it
				bias.t = reshapedCopy(g, bias.t, names)
				name = bias.t.GetName()
				readers[name] = 1
			}
			bias.t.Dims = []int64{size} // the Cast's output follows
			layer.Input = append(layer.Input, name)
			layer.Output[0] = add.Output[0]
			producer[add.Output[0]] = layer
			fused[add], moved[layer] = layer, true
			break
		}
	}
	nodes := g.Node[:0]
	for _, n := range g.Node {
		switch {
		case moved[n]:
		case fused[n] != nil:
			nodes = append(nodes, fused[n])
		default:
			nodes = append(nodes, n)
		}
	}
	g.Node = nodes
}

// knownValue is a value whose contents are known when the model loads: an
// initializer, or an initializer decompressed by a Cast (an f16 IR's
// Const -> Convert) that only that Cast reads.
type knownValue struct {
	t    *onnxpb.TensorProto // the initializer
	cast *onnxpb.NodeProto   // the Cast it goes through, or nil
}

// dataType is the element type of the constant's value.
func (c *knownValue) dataType() int32 {
	if c.cast != nil {
		for _, a := range c.cast.GetAttribute() {
			if a.GetName() == "to" {
				return int32(a.GetI())
			}
		}
		return -1
	}
	return int32(c.t.GetDataType())
}

// constantOf returns the constant value called name, or nil.
func constantOf(name string, inits map[string]*onnxpb.TensorProto, producer map[string]*onnxpb.NodeProto, readers map[string]int) *knownValue {
	if t := inits[name]; t != nil {
		return &knownValue{t: t}
	}
	n := producer[name]
	if n == nil || n.GetOpType() != "Cast" || n.GetDomain() != "" || len(n.GetInput()) != 1 {
		return nil
	}
	if t := inits[n.Input[0]]; t != nil && readers[n.Input[0]] == 1 {
		return &knownValue{t: t, cast: n}
	}
	return nil
}

// biasSize returns the length of the bias that layer (a Conv or Gemm
// without one) would take from bias, and whether bias has a shape that
// makes the Add after layer the same as that bias.
func biasSize(layer *onnxpb.NodeProto, bias *knownValue, constants func(string) *knownValue) (int64, bool) {
	if layer.GetDomain() != "" || len(layer.GetInput()) != 2 || len(layer.GetOutput()) != 1 {
		return 0, false
	}
	wc := constants(layer.Input[1])
	if wc == nil || wc.dataType() != bias.dataType() {
		return 0, false
	}
	w := wc.t
	dims := bias.t.GetDims()
	ones := func(ds []int64) bool {
		for _, d := range ds {
			if d != 1 {
				return false
			}
		}
		return true
	}
	switch layer.GetOpType() {
	case "Conv":
		// The output has the weights' rank: [N, C, spatial...].
		rank, c := len(w.GetDims()), int64(0)
		if rank < 3 {
			return 0, false
		}
		c = w.GetDims()[0]
		switch {
		case len(dims) == rank && dims[0] == 1 && dims[1] == c && ones(dims[2:]):
		case len(dims) == rank-1 && dims[0] == c && ones(dims[1:]):
		default:
			return 0, false
		}
		return c, true
	case "Gemm":
		if len(w.GetDims()) != 2 {
			return 0, false
		}
		n := w.GetDims()[1]
		for _, a := range layer.GetAttribute() {
			switch a.GetName() {
			case "transB":
				if a.GetI() != 0 {
					n = w.GetDims()[0]
				}
			case "transA":
			default:
				return 0, false // alpha or beta would scale the bias
			}
		}
		if (len(dims) == 1 && dims[0] == n) || (len(dims) == 2 && dims[0] == 1 && dims[1] == n) {
			return n, true
		}
	}
	return 0, false
}

// reshapedCopy adds to g an initializer with bias's contents (its raw
// bytes shared, not copied) under a new name, for a bias another node
// also reads.
func reshapedCopy(g *onnxpb.GraphProto, bias *onnxpb.TensorProto, names map[string]bool) *onnxpb.TensorProto {
	name := bias.GetName() + "_bias"
	for i := 1; names[name]; i++ {
		name = fmt.Sprintf("%s_bias%d", bias.GetName(), i)
	}
	names[name] = true
	c := &onnxpb.TensorProto{
		Name: &name, DataType: bias.DataType, RawData: bias.RawData,
		FloatData: bias.FloatData, DoubleData: bias.DoubleData, Int32Data: bias.Int32Data, Int64Data: bias.Int64Data,
		DataLocation: bias.DataLocation, ExternalData: bias.ExternalData,
	}
	g.Initializer = append(g.Initializer, c)
	return c
}

// countReaders counts, for every value name, the node inputs that read it
// (in g and its subgraphs), and collects every name in use.
func countReaders(g *onnxpb.GraphProto, readers map[string]int, names map[string]bool) {
	for _, t := range g.GetInitializer() {
		names[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		names[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			readers[in]++
		}
		for _, o := range n.GetOutput() {
			names[o] = true
		}
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				countReaders(a.GetG(), readers, names)
			}
			for _, sub := range a.GetGraphs() {
				countReaders(sub, readers, names)
			}
		}
	}
}
