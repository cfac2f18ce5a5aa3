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
// The bias must be an initializer of the layer's element type whose shape
// only spreads C (the Conv's output channels, its weights' first axis) or N
// (the Gemm's output columns, known from constant weights) over the
// output: [1,C,1,...] or [C,1,...] of the output's rank or one less for a
// Conv, [N] or [1,N] for a Gemm. It is reshaped to [C] or [N] in place
// (the same bytes), or copied to a new initializer when another node reads
// it too.
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
	removed := map[*onnxpb.NodeProto]bool{}
	for _, add := range g.GetNode() {
		if add.GetOpType() != "Add" || add.GetDomain() != "" || len(add.GetInput()) != 2 || len(add.GetOutput()) != 1 {
			continue
		}
		for side := range 2 {
			layer, bias := producer[add.Input[side]], inits[add.Input[1-side]]
			if layer == nil || bias == nil || removed[layer] || readers[add.Input[side]] != 1 {
				continue
			}
			size, ok := biasSize(layer, bias, inits)
			if !ok {
				continue
			}
			if readers[bias.GetName()] > 1 {
				readers[bias.GetName()]-- // the Add no longer reads it
				bias = reshapedCopy(g, bias, names)
				readers[bias.GetName()] = 1
			}
			bias.Dims = []int64{size}
			layer.Input = append(layer.Input, bias.GetName())
			layer.Output[0] = add.Output[0]
			producer[add.Output[0]] = layer
			removed[add] = true
			break
		}
	}
	g.Node = slices.DeleteFunc(g.Node, func(n *onnxpb.NodeProto) bool { return removed[n] })
}

// biasSize returns the length of the bias that layer (a Conv or Gemm
// without one) would take from bias, and whether bias has a shape that
// makes the Add after layer the same as that bias.
func biasSize(layer *onnxpb.NodeProto, bias *onnxpb.TensorProto, inits map[string]*onnxpb.TensorProto) (int64, bool) {
	if layer.GetDomain() != "" || len(layer.GetInput()) != 2 || len(layer.GetOutput()) != 1 {
		return 0, false
	}
	w := inits[layer.Input[1]]
	if w == nil || w.GetDataType() != bias.GetDataType() {
		return 0, false
	}
	dims := bias.GetDims()
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
