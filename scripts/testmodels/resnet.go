package main

import (
	"fmt"
	"math"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// resnetSeed seeds the first resnet50 weight; each further tensor uses the
// next seed, so the model is the same on every run.
const resnetSeed = 50

// residualScale shrinks the last conv of each residual branch so that the
// 16 identity additions do not blow up activations (no batch norm here).
const residualScale = 0.25

// resnet builds a ResNet-50-shaped CNN with random weights.
type resnet struct {
	g    *om.Graph
	seed uint64
}

// weight returns a fresh He-uniform initializer scaled by scale.
func (r *resnet) weight(shape []int64, scale float64) om.Value {
	r.seed++
	fanIn := int64(1)
	for _, d := range shape[1:] {
		fanIn *= d
	}
	limit := scale * math.Sqrt(6/float64(fanIn))
	return r.g.Constant(om.UniformFloat32Tensor(fmt.Sprintf("w%d", r.seed), shape, r.seed, float32(limit)))
}

// bias returns a small random bias of length n (batch norm folded in).
func (r *resnet) bias(n int64) om.Value {
	r.seed++
	return r.g.Constant(om.UniformFloat32Tensor(fmt.Sprintf("b%d", r.seed), []int64{n}, r.seed, 0.01))
}

// conv adds a k x k convolution with bias from in to out channels, with
// "same"-style padding, optionally followed by Relu.
func (r *resnet) conv(x om.Value, in, out, k, stride int64, scale float64, relu bool) om.Value {
	pad := k / 2
	y := r.g.Node("Conv", []om.Value{x, r.weight([]int64{out, in, k, k}, scale), r.bias(out)},
		om.AttrInts("kernel_shape", k, k),
		om.AttrInts("strides", stride, stride),
		om.AttrInts("pads", pad, pad, pad, pad))
	if relu {
		y = r.g.Node("Relu", []om.Value{y})
	}
	return y
}

// bottleneck adds a ResNet v1.5 bottleneck block (stride on the 3x3 conv)
// with a projection shortcut when the shape changes.
func (r *resnet) bottleneck(x om.Value, in, mid, out, stride int64) om.Value {
	y := r.conv(x, in, mid, 1, 1, 1, true)
	y = r.conv(y, mid, mid, 3, stride, 1, true)
	y = r.conv(y, mid, out, 1, 1, residualScale, false)
	shortcut := x
	if in != out || stride != 1 {
		shortcut = r.conv(x, in, out, 1, stride, 1, false)
	}
	return r.g.Node("Relu", []om.Value{r.g.Node("Add", []om.Value{y, shortcut})})
}

// resnet50 builds input "input" FP32 [1,3,224,224] -> output "output" FP32
// [1,1000]: conv 7x7/2 + Relu + MaxPool 3x3/2, bottleneck stages of 3, 4, 6
// and 3 blocks, GlobalAveragePool, Flatten and Gemm 2048x1000.
func resnet50() (*onnxpb.ModelProto, error) {
	r := &resnet{g: om.NewGraph("resnet50"), seed: resnetSeed}
	x := r.g.Input("input", om.Float32, 1, 3, 224, 224)
	y := r.conv(x, 3, 64, 7, 2, 1, true)
	y = r.g.Node("MaxPool", []om.Value{y},
		om.AttrInts("kernel_shape", 3, 3),
		om.AttrInts("strides", 2, 2),
		om.AttrInts("pads", 1, 1, 1, 1))
	stages := []struct{ blocks, mid, stride int64 }{{3, 64, 1}, {4, 128, 2}, {6, 256, 2}, {3, 512, 2}}
	in := int64(64)
	for _, s := range stages {
		for b := int64(0); b < s.blocks; b++ {
			stride := s.stride
			if b > 0 {
				stride = 1
			}
			y = r.bottleneck(y, in, s.mid, 4*s.mid, stride)
			in = 4 * s.mid
		}
	}
	y = r.g.Node("GlobalAveragePool", []om.Value{y})
	y = r.g.Node("Flatten", []om.Value{y}, om.AttrInt("axis", 1))
	fc := r.weight([]int64{1000, in}, math.Sqrt(0.5)) // no Relu after: variance 1/fanIn
	y = r.g.NamedNode("Gemm", "output", []om.Value{y, fc, r.bias(1000)}, om.AttrInt("transB", 1))
	r.g.Output(y, "output", om.Float32, 1, 1000)
	return r.g.Model(opset)
}

// smallCNNSeed seeds the first small_cnn weight (see resnetSeed).
const smallCNNSeed = 32

// smallCNN builds the dynamic-batching benchmark model: input "input" FP32
// [-1,3,32,32] (batch dimension dynamic) -> output "output" FP32 [-1,10].
// Two 3x3 convolutions with Relu and 2x2 MaxPool (32 and 64 channels), then
// a classifier head as in VGG or AlexNet: Flatten, a 4096x2048 Gemm with
// Relu and a 2048x10 Gemm. The head's 32 MiB of weights dominate: one image
// reads all of them for 8 MFLOP (memory-bound, a few ms here), while a batch
// reads them once for all its images, which is where server-side batching
// pays on a CPU.
func smallCNN() (*onnxpb.ModelProto, error) { return cnn("small_cnn", smallCNNSeed, 32, 64, 2048) }

// cnn builds a small CNN named graph, its weights seeded from seed: input
// "input" FP32 [-1,3,32,32] -> output "output" FP32 [-1,10] through two 3x3
// convolutions (c1 and c2 channels) with Relu and 2x2 MaxPool, then Flatten,
// a Gemm to hidden units with Relu and a Gemm to 10. The weights take about
// 4 x (c2 x 64 x hidden) bytes.
func cnn(graph string, seed uint64, c1, c2, hidden int64) (*onnxpb.ModelProto, error) {
	r := &resnet{g: om.NewGraph(graph), seed: seed}
	x := r.g.Input("input", om.Float32, -1, 3, 32, 32)
	pool := func(v om.Value) om.Value {
		return r.g.Node("MaxPool", []om.Value{v}, om.AttrInts("kernel_shape", 2, 2), om.AttrInts("strides", 2, 2))
	}
	y := pool(r.conv(x, 3, c1, 3, 1, 1, true))
	y = pool(r.conv(y, c1, c2, 3, 1, 1, true))
	y = r.g.Node("Flatten", []om.Value{y}, om.AttrInt("axis", 1))
	fc1 := r.weight([]int64{hidden, c2 * 8 * 8}, 1)
	y = r.g.Node("Gemm", []om.Value{y, fc1, r.bias(hidden)}, om.AttrInt("transB", 1))
	y = r.g.Node("Relu", []om.Value{y})
	fc2 := r.weight([]int64{10, hidden}, math.Sqrt(0.5))
	y = r.g.NamedNode("Gemm", "output", []om.Value{y, fc2, r.bias(10)}, om.AttrInt("transB", 1))
	r.g.Output(y, "output", om.Float32, -1, 10)
	return r.g.Model(opset)
}
