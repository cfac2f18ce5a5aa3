// Package irresnet generates a ResNet-50-shaped OpenVINO IR model and its
// ONNX twin with the same weights, for the IR translation tests and the
// load-time bench. The layer structure is ResNet-50's (v1.5): a 7x7/2
// convolution stem with batch norm (BatchNormInference) and ReLU, a 3x3/2
// max pool, bottleneck blocks [3, 4, 6, 3] of 1x1, 3x3 and 1x1 convolutions
// (stride on the 3x3, projection shortcuts where the shape changes), the
// other batch norms folded into a bias Add as OpenVINO's converters write
// them, residual Adds and ReLUs, global average pooling (ReduceMean),
// a 2048x1000 fully connected layer (MatMul transpose_b + Add) and Softmax.
// The full model has 25.5M parameters (about 100 MB of f32 weights) drawn
// from a seeded generator and scaled (He-uniform, the last convolution of
// each residual branch shrunk) so that activations stay of order one.
//
// Three flavours, as OpenVINO's tools write them:
//   - F32: f32 constants.
//   - F16: every float constant stored as f16 and followed by a Convert to
//     f32 marked "decompression" in its rt_info (compress_to_fp16).
//   - INT8: post-training quantization: a FakeQuantize with 256 levels and
//     per-tensor limits on each activation a convolution or the fully
//     connected layer reads, and a FakeQuantize with 255 levels and
//     per-output-channel limits on each weight.
//
// The ONNX twin is built directly with devices/onnxmodel, not by the
// translator: Conv with its bias input, BatchNormalization, MaxPool,
// GlobalAveragePool, Flatten, Gemm and Softmax, always with the original
// f32 weights (the F16 twin is what the model was before compression). The
// INT8 twin writes each FakeQuantize as the specification's formula in ONNX
// ops, in the specification's order of operations.
package irresnet

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/ovmsgo/ovms/core/tensor/f16"
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Flavour is how the weights are stored.
type Flavour string

// The flavours.
const (
	F32  Flavour = "f32"
	F16  Flavour = "f16"
	INT8 Flavour = "int8"
)

// Input and Output are the tensor names of the model: "input" f32
// [1,3,Size,Size] and "prob" f32 [1,Classes].
const (
	Input  = "input"
	Output = "prob"
)

// Config shapes the generated model.
type Config struct {
	Flavour Flavour
	// Blocks is the number of bottleneck blocks per stage.
	Blocks [4]int
	// Size is the input image side.
	Size int64
	// Width is the stem's channel count (64); stages use Width, 2x, 4x
	// and 8x in their 3x3 convolutions and four times that out.
	Width int64
	// Classes is the fully connected layer's output count.
	Classes int64
	// Seed seeds the first weight; each further tensor uses the next.
	Seed uint64
}

// ResNet50 is the full-size model in flavour f.
func ResNet50(f Flavour) Config {
	return Config{Flavour: f, Blocks: [4]int{3, 4, 6, 3}, Size: 224, Width: 64, Classes: 1000, Seed: 50}
}

// Small is a reduced model with the same kinds of layers (one block per
// stage, 64x64 input, a quarter of the width) for fast exactness tests.
func Small(f Flavour) Config {
	return Config{Flavour: f, Blocks: [4]int{1, 1, 1, 1}, Size: 64, Width: 16, Classes: 100, Seed: 50}
}

// residualScale shrinks the last convolution of each residual branch so
// that the identity additions do not blow activations up.
const residualScale = 0.25

// Activation limits of the INT8 flavour: the network's input is quantized
// over [-inputRange, inputRange], ReLU outputs over [0, reluRange].
const (
	inputRange = 1
	reluRange  = 4
)

// value is one tensor in both graphs, with its static shape.
type value struct {
	ir    irtest.Out
	ox    om.Value
	shape []int64
}

// builder writes the IR and the ONNX twin side by side.
type builder struct {
	cfg  Config
	n    *irtest.Net
	g    *om.Graph
	seed uint64
}

// Build generates the IR net and its ONNX twin (opset 13).
func Build(cfg Config) (*irtest.Net, *onnxpb.ModelProto, error) {
	b := &builder{cfg: cfg, n: irtest.New("resnet50"), g: om.NewGraph("resnet50"), seed: cfg.Seed}
	switch cfg.Flavour {
	case F32, F16, INT8:
	default:
		return nil, nil, fmt.Errorf("irresnet: unknown flavour %q", cfg.Flavour)
	}
	in := []int64{1, 3, cfg.Size, cfg.Size}
	x := value{ir: b.n.Parameter(Input, irmodel.F32, dims(in)), ox: b.g.Input(Input, om.Float32, in...), shape: in}
	x = b.actFQ(x, -inputRange, inputRange)
	y := b.conv(x, cfg.Width, 7, 2, 1, false)
	y = b.batchNorm(y)
	y = b.relu(y)
	y = b.maxPool(y)
	c := cfg.Width
	for s, blocks := range cfg.Blocks {
		mid := cfg.Width << s
		for i := range blocks {
			stride := int64(1)
			if s > 0 && i == 0 {
				stride = 2
			}
			y = b.bottleneck(y, mid, 4*mid, stride)
			c = 4 * mid
		}
	}
	y = b.globalPool(y, c)
	y = b.fc(y, cfg.Classes)
	y = b.softmax(y)
	b.n.Result(y.ir, Output+"/sink_port_0")
	b.g.Output(y.ox, Output, om.Float32, y.shape...)
	m, err := b.g.Model(13)
	if err != nil {
		return nil, nil, err
	}
	return b.n, m, nil
}

// dims writes a shape in IR syntax.
func dims(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, ",")
}

func port(shape []int64, names ...string) irtest.Port {
	return irtest.Port{Type: irmodel.F32, Shape: dims(shape), Names: strings.Join(names, ",")}
}

// uniform returns the next seeded tensor of f32 values in ±limit.
func (b *builder) uniform(shape []int64, limit float64) []byte {
	b.seed++
	return om.UniformFloat32Tensor("", shape, b.seed, float32(limit)).GetRawData()
}

// weight is a constant of f32 values raw in both graphs; irShape is its
// IR shape (a bias [1,C,1,1]), onnxShape its ONNX one. The F16 flavour
// stores it as f16 followed by Convert; the twin keeps the f32 values.
func (b *builder) weight(raw []byte, irShape, onnxShape []int64) value {
	var ir irtest.Out
	if b.cfg.Flavour == F16 {
		half := make([]byte, len(raw)/2)
		for i := 0; i < len(raw)/4; i++ {
			f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			binary.LittleEndian.PutUint16(half[2*i:], f16.Float32ToHalf(f))
		}
		h := b.n.Const(irmodel.F16, irShape, half)
		ir = b.n.Op("Convert", "opset1", map[string]string{"destination_type": "f32"}, []irtest.Out{h}, port(irShape))[0]
		b.n.LayerRTInfo(ir, `<attribute name="decompression" version="0"/>`)
	} else {
		ir = b.n.Const(irmodel.F32, irShape, raw)
	}
	b.seed++
	return value{ir: ir, ox: b.g.Constant(om.RawTensor(fmt.Sprintf("w%d", b.seed), om.Float32, onnxShape, raw)), shape: irShape}
}

// f32 is a small constant of the given values, never compressed (the
// quantization limits).
func (b *builder) f32(shape []int64, vals []float32) value {
	b.seed++
	return value{ir: b.n.F32(shape, vals...), ox: b.g.Constant(om.Float32Tensor(fmt.Sprintf("q%d", b.seed), shape, vals)), shape: shape}
}

// fakeQuantize quantizes x with limits il, ih, ol, oh: in the IR one
// FakeQuantize layer, in the twin the specification's formula
//
//	x <= min(il, ih): ol;  x > max(il, ih): oh;
//	else round((x - il) / (ih - il) * (levels-1)) / (levels-1) * (oh - ol) + ol
//
// with round half to even, step by step in that order.
func (b *builder) fakeQuantize(x, il, ih, ol, oh value, levels int) value {
	y := b.n.Op("FakeQuantize", "opset1", map[string]string{"levels": fmt.Sprint(levels), "auto_broadcast": "numpy"},
		[]irtest.Out{x.ir, il.ir, ih.ir, ol.ir, oh.ir}, port(x.shape))[0]
	g := b.g
	n := g.Constant(om.Float32Tensor(g.Fresh("levels"), nil, []float32{float32(levels - 1)}))
	q := g.Node("Div", []om.Value{g.Node("Sub", []om.Value{x.ox, il.ox}), g.Node("Sub", []om.Value{ih.ox, il.ox})})
	q = g.Node("Round", []om.Value{g.Node("Mul", []om.Value{q, n})})
	q = g.Node("Mul", []om.Value{g.Node("Div", []om.Value{q, n}), g.Node("Sub", []om.Value{oh.ox, ol.ox})})
	q = g.Node("Add", []om.Value{q, ol.ox})
	low := g.Node("LessOrEqual", []om.Value{x.ox, g.Node("Min", []om.Value{il.ox, ih.ox})})
	high := g.Node("Greater", []om.Value{x.ox, g.Node("Max", []om.Value{il.ox, ih.ox})})
	ox := g.Node("Where", []om.Value{low, ol.ox, g.Node("Where", []om.Value{high, oh.ox, q})})
	return value{ir: y, ox: ox, shape: x.shape}
}

// actFQ quantizes an activation over [lo, hi] with 256 levels and
// per-tensor limits (shaped [1,1,...] as the tools write them); a no-op
// unless the flavour is INT8.
func (b *builder) actFQ(x value, lo, hi float32) value {
	if b.cfg.Flavour != INT8 {
		return x
	}
	one := make([]int64, len(x.shape))
	for i := range one {
		one[i] = 1
	}
	l, h := b.f32(one, []float32{lo}), b.f32(one, []float32{hi})
	return b.fakeQuantize(x, l, h, l, h, 256)
}

// weightFQ quantizes a weight whose first axis is the output channel with
// 255 levels and symmetric per-channel limits ±max|w_c|; a no-op unless the
// flavour is INT8.
func (b *builder) weightFQ(w value, raw []byte) value {
	if b.cfg.Flavour != INT8 {
		return w
	}
	c := w.shape[0]
	per := len(raw) / 4 / int(c)
	lo, hi := make([]float32, c), make([]float32, c)
	for i := range int(c) {
		m := float32(0)
		for j := range per {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*per+j):]))
			m = max(m, float32(math.Abs(float64(v))))
		}
		lo[i], hi[i] = -m, m
	}
	shape := make([]int64, len(w.shape))
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = c
	l, h := b.f32(shape, lo), b.f32(shape, hi)
	return b.fakeQuantize(w, l, h, l, h, 255)
}

// conv is a k x k convolution to out channels with "same" padding, He
// weights times scale and, with bias, a small bias: in the IR Convolution
// then Add of a [1,C,1,1] constant, in the twin Conv with its bias input.
func (b *builder) conv(x value, out, k, stride int64, scale float64, bias bool) value {
	in := x.shape[1]
	ws := []int64{out, in, k, k}
	raw := b.uniform(ws, scale*math.Sqrt(6/float64(in*k*k)))
	w := b.weightFQ(b.weight(raw, ws, ws), raw)
	pad := k / 2
	h := (x.shape[2]+2*pad-k)/stride + 1
	wd := (x.shape[3]+2*pad-k)/stride + 1
	shape := []int64{1, out, h, wd}
	p := fmt.Sprintf("%d,%d", pad, pad)
	y := b.n.Op("Convolution", "opset1", map[string]string{
		"strides": fmt.Sprintf("%d,%d", stride, stride), "dilations": "1,1",
		"pads_begin": p, "pads_end": p, "auto_pad": "explicit",
	}, []irtest.Out{x.ir, w.ir}, port(shape))[0]
	inputs := []om.Value{x.ox, w.ox}
	if bias {
		bv := b.weight(b.uniform([]int64{out}, 0.01), []int64{1, out, 1, 1}, []int64{out})
		y = b.n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{y, bv.ir}, port(shape))[0]
		inputs = append(inputs, bv.ox)
	}
	ox := b.g.Node("Conv", inputs, om.AttrInts("kernel_shape", k, k), om.AttrInts("strides", stride, stride),
		om.AttrInts("pads", pad, pad, pad, pad))
	return value{ir: y, ox: ox, shape: shape}
}

// batchNorm is BatchNormInference-5 (ONNX BatchNormalization) with gamma
// near 1, small beta and mean, and variance near 1.
func (b *builder) batchNorm(x value) value {
	c := x.shape[1]
	near := func(center float32, spread float64) value {
		raw := b.uniform([]int64{c}, spread)
		for i := 0; i < len(raw); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])) + center
			binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(v))
		}
		return b.weight(raw, []int64{c}, []int64{c})
	}
	gamma, beta, mean, variance := near(1, 0.1), near(0, 0.05), near(0, 0.05), near(1, 0.1)
	const eps = 1e-5
	y := b.n.Op("BatchNormInference", "opset5", map[string]string{"epsilon": "1e-05"},
		[]irtest.Out{x.ir, gamma.ir, beta.ir, mean.ir, variance.ir}, port(x.shape))[0]
	ox := b.g.Node("BatchNormalization", []om.Value{x.ox, gamma.ox, beta.ox, mean.ox, variance.ox}, om.AttrFloat("epsilon", eps))
	return value{ir: y, ox: ox, shape: x.shape}
}

// relu is ReLU.
func (b *builder) relu(x value) value {
	return value{ir: b.n.Op("Relu", "opset1", nil, []irtest.Out{x.ir}, port(x.shape))[0],
		ox: b.g.Node("Relu", []om.Value{x.ox}), shape: x.shape}
}

// maxPool is the 3x3/2 max pool with padding 1.
func (b *builder) maxPool(x value) value {
	shape := []int64{x.shape[0], x.shape[1], (x.shape[2]-1)/2 + 1, (x.shape[3]-1)/2 + 1}
	y := b.n.Op("MaxPool", "opset1", map[string]string{"kernel": "3,3", "strides": "2,2", "pads_begin": "1,1", "pads_end": "1,1",
		"rounding_type": "floor", "auto_pad": "explicit"}, []irtest.Out{x.ir}, port(shape))[0]
	ox := b.g.Node("MaxPool", []om.Value{x.ox}, om.AttrInts("kernel_shape", 3, 3), om.AttrInts("strides", 2, 2), om.AttrInts("pads", 1, 1, 1, 1))
	return value{ir: y, ox: ox, shape: shape}
}

// bottleneck is a v1.5 bottleneck block with a projection shortcut when the
// shape changes; in INT8 the block's input is quantized once for both
// convolutions that read it.
func (b *builder) bottleneck(x value, mid, out, stride int64) value {
	q := b.actFQ(x, 0, reluRange)
	y := b.conv(q, mid, 1, 1, 1, true)
	short := x
	if x.shape[1] != out || stride != 1 {
		// Written next to the first convolution that reads q, where the
		// translation puts it: ONNX Runtime fuses the residual Add into
		// one of the two convolutions by node order, and the twin must
		// pick the same one for its sums to round alike.
		short = b.conv(q, out, 1, stride, 1, true)
	}
	y = b.relu(y)
	y = b.relu(b.conv(b.actFQ(y, 0, reluRange), mid, 3, stride, 1, true))
	y = b.conv(b.actFQ(y, 0, reluRange), out, 1, 1, residualScale, true)
	sum := value{ir: b.n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{y.ir, short.ir}, port(y.shape))[0],
		ox: b.g.Node("Add", []om.Value{y.ox, short.ox}), shape: y.shape}
	return b.relu(sum)
}

// globalPool averages the spatial axes: ReduceMean over axes 2 and 3 with
// keep_dims, then Reshape to [1,C] in the IR; GlobalAveragePool and
// Flatten in the twin.
func (b *builder) globalPool(x value, c int64) value {
	axes := b.n.I64([]int64{2}, 2, 3)
	r := b.n.Op("ReduceMean", "opset1", map[string]string{"keep_dims": "true"}, []irtest.Out{x.ir, axes}, port([]int64{1, c, 1, 1}))[0]
	to := b.n.I64([]int64{2}, 1, c)
	shape := []int64{1, c}
	y := b.n.Op("Reshape", "opset1", map[string]string{"special_zero": "false"}, []irtest.Out{r, to}, port(shape))[0]
	ox := b.g.Node("Flatten", []om.Value{b.g.Node("GlobalAveragePool", []om.Value{x.ox})}, om.AttrInt("axis", 1))
	return value{ir: y, ox: ox, shape: shape}
}

// fc is the classifier: MatMul (transpose_b) with [classes, C] weights and
// an Add of a [1,classes] bias in the IR, Gemm transB in the twin.
func (b *builder) fc(x value, classes int64) value {
	x = b.actFQ(x, 0, reluRange)
	c := x.shape[1]
	ws := []int64{classes, c}
	raw := b.uniform(ws, math.Sqrt(6/float64(c))) // logits of order one
	w := b.weightFQ(b.weight(raw, ws, ws), raw)
	bias := b.weight(b.uniform([]int64{classes}, 0.01), []int64{1, classes}, []int64{classes})
	shape := []int64{1, classes}
	m := b.n.Op("MatMul", "opset1", map[string]string{"transpose_a": "false", "transpose_b": "true"}, []irtest.Out{x.ir, w.ir}, port(shape))[0]
	y := b.n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{m, bias.ir}, port(shape))[0]
	ox := b.g.Node("Gemm", []om.Value{x.ox, w.ox, bias.ox}, om.AttrInt("transB", 1))
	return value{ir: y, ox: ox, shape: shape}
}

// softmax is Softmax-8 over axis 1, named Output.
func (b *builder) softmax(x value) value {
	y := b.n.Op("Softmax", "opset8", map[string]string{"axis": "1"}, []irtest.Out{x.ir}, port(x.shape, Output))[0]
	return value{ir: y, ox: b.g.NamedNode("Softmax", Output, []om.Value{x.ox}, om.AttrInt("axis", 1)), shape: x.shape}
}
