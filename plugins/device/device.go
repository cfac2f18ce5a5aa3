package device

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/shm"
)

// Device is the contract a device plugin implements. Every method may be
// called concurrently; Infer is the hot path.
//
// Buffer ownership (see package shm): the input TensorRefs of an InferRequest
// lie in the host zone (or in a client region) and may be read only until
// Infer returns. The output
// TensorRefs Infer returns must lie in the plugin zone, allocated with
// Env.Arena.PluginZone().Alloc; from the moment Infer returns successfully
// they belong to the host, and the SDK frees them when the host releases the
// response's lease. If Infer fails it must free what it allocated.
type Device interface {
	// Info describes the plugin and the target devices it serves.
	Info(ctx context.Context) (*Info, error)
	// Load compiles one model version and keeps it until Unload. Loading a
	// key that is already loaded replaces it.
	Load(ctx context.Context, req *LoadRequest) (*ModelInfo, error)
	// Unload drops one model version. Unknown keys are not an error.
	Unload(ctx context.Context, key ModelKey) error
	// Infer runs one request on a loaded model version.
	Infer(ctx context.Context, req *InferRequest) (*InferResponse, error)
}

// Env is what the SDK hands to a device factory in the plugin process.
type Env struct {
	// Arena is the shared-memory arena inherited from the host.
	Arena *shm.Arena
	// Logger writes structured JSON to stderr, which the host re-emits.
	Logger *logrus.Entry
	// Regions are the client shared-memory regions the host mapped for
	// this plugin (tensors with a non-zero Region refer to them).
	Regions *shm.RegionTable
	// LoadParallelism is how many model versions the host wants compiled
	// at once (EnvLoadParallelism; 0 when the host did not say). The host
	// sends a plugin more loads than that at once, so that the files,
	// calls and bookkeeping of the next loads overlap the compiles of the
	// current ones: a device whose compile is CPU-bound should bound it
	// with this (ortdevice does); one that does not simply compiles more
	// at once.
	LoadParallelism int
}

// Bytes returns the memory of a tensor, in the arena or in a client
// region, and a function to call when it is no longer used. Bounds are
// checked.
func (e *Env) Bytes(ref TensorRef) ([]byte, func(), error) {
	if ref.Region == 0 {
		b, err := e.Arena.Bytes(ref.Offset, ref.Length)
		return b, func() {}, err
	}
	if e.Regions == nil {
		return nil, nil, fmt.Errorf("tensor %q: no client shared-memory regions", ref.Name)
	}
	return e.Regions.Bytes(ref.Region, ref.Offset, ref.Length)
}

// Factory builds the Device of a plugin process.
type Factory func(env *Env) (Device, error)

// Info describes a device plugin.
type Info struct {
	// Name is the plugin name, e.g. "cpu".
	Name string
	// Version is the plugin's build version.
	Version string
	// Engine names the inference engine and its version.
	Engine string
	// Devices lists the target_device names the plugin serves, e.g. "CPU".
	Devices []string
	// Unavailable is set when the hardware or the engine support the
	// plugin needs is missing on this machine; Reason says what.
	Unavailable bool
	Reason      string
}

// EnvCPUExtension names a custom-operator library (OVMS's --cpu_extension)
// that a plugin registers with every model it compiles; the host sets it.
const EnvCPUExtension = "OVMS_CPU_EXTENSION"

// EnvLoadParallelism carries the host's load parallelism
// (--model_load_parallelism, resolved: at least 1) to a device plugin: how
// many model versions the plugin should compile at once. The host may have
// more loads in flight than that (see Env.LoadParallelism).
const EnvLoadParallelism = "OVMS_LOAD_PARALLELISM"

// ModelKey names one model version.
type ModelKey struct {
	// Name is the servable name.
	Name string
	// Version is the version number (>= 1).
	Version int64
}

// LoadRequest asks a plugin to load one model version.
type LoadRequest struct {
	// Model is the key the version will be known by.
	Model ModelKey
	// Path is the local directory of the version.
	Path string
	// ModelBytes, when set, is the model itself (an ONNX model).
	ModelBytes []byte
	// ModelFiles, when set, are the model's files in memory from a custom
	// loader: one .onnx file, or an OpenVINO IR's .xml and .bin. Nothing
	// is then read from Path, and the files must never be written to disk
	// (a loader may have decrypted them).
	ModelFiles []ModelFile
	// PluginConfig is the model's plugin_config with values as strings.
	PluginConfig map[string]string
	// TargetDevice is the configured device, e.g. "CPU".
	TargetDevice string
	// Nireq is the requested inference request pool size; 0 = plugin decides.
	Nireq uint32
	// Shapes reshapes inputs before compiling (OVMS's shape): input name
	// ("" for the only input) -> dims, -1 dynamic.
	Shapes map[string][]int64
	// BatchSize sets every input's batch dimension (OVMS's batch_size); 0
	// keeps it.
	BatchSize int64
	// Layouts are OVMS's layout settings per input ("" for the only input):
	// "TARGET:SOURCE" makes requests come in TARGET order for a model that
	// takes SOURCE; a bare layout names the dimensions.
	Layouts map[string]string
	// Stateful, when set, makes the version a stateful model: the device
	// keeps each sequence's state (see sequence.go).
	Stateful *Stateful
	// TakeSequencesFrom, for a stateful model, names its previous version
	// in this plugin: the new version takes over its sequences when the
	// state inputs (names, types, shapes) are the same, else they are
	// dropped (with a log line).
	TakeSequencesFrom *ModelKey
}

// ModelFile is one model file in memory.
type ModelFile struct {
	// Name is the file's name (its extension tells the format).
	Name string
	// Data is the file's contents.
	Data []byte
}

// TensorInfo is the metadata of one model input or output.
type TensorInfo struct {
	// Name is the tensor name.
	Name string
	// DType is the element type.
	DType DataType
	// Shape holds the dimensions, -1 for dynamic ones; empty for scalars.
	Shape []int64
	// Aliases are other names requests may give the tensor (an OpenVINO
	// IR tensor's further names); responses always use Name.
	Aliases []string
	// Layout is the layout the model declares for the tensor ("NCHW", from
	// an OpenVINO IR's rt_info), one letter a dimension; "" when unknown.
	// A configured layout replaces it, as in OVMS.
	Layout string
	// ShapeMin and ShapeMax bound the dimensions the model declares as
	// ranges (an OpenVINO IR's "1..8"): nil when there is none, else as long
	// as Shape, where a dimension with Shape -1 and ShapeMax >= 0 accepts
	// ShapeMin to ShapeMax; the other entries repeat Shape. Shape keeps -1
	// for a range, as OVMS's metadata shows it.
	ShapeMin, ShapeMax []int64
}

// Bounded reports whether dimension i is a range with an upper bound.
func (t *TensorInfo) Bounded(i int) bool {
	return i < len(t.ShapeMax) && i < len(t.ShapeMin) && i < len(t.Shape) && t.Shape[i] < 0 && t.ShapeMax[i] >= 0
}

// DimString writes dimension i as OVMS's Dimension::toString does: the
// size, -1 for an unbounded dynamic dimension, "[1~8]" for a range.
func (t *TensorInfo) DimString(i int) string {
	if t.Bounded(i) {
		return "[" + strconv.FormatInt(t.ShapeMin[i], 10) + "~" + strconv.FormatInt(t.ShapeMax[i], 10) + "]"
	}
	return strconv.FormatInt(max(t.Shape[i], -1), 10)
}

// ShapeString writes the shape as OVMS's Shape::toString does:
// "([1~4],10)".
func (t *TensorInfo) ShapeString() string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range t.Shape {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.DimString(i))
	}
	b.WriteByte(')')
	return b.String()
}

// InRange reports whether size d fits dimension i: any size for an
// unbounded dynamic dimension, the bounds for a range, else the size.
func (t *TensorInfo) InRange(i int, d int64) bool {
	if t.Bounded(i) {
		return d >= t.ShapeMin[i] && d <= t.ShapeMax[i]
	}
	return t.Shape[i] < 0 || t.Shape[i] == d
}

// ModelInfo is the metadata of a loaded model version.
type ModelInfo struct {
	// Inputs in the model's order.
	Inputs []TensorInfo
	// Outputs in the model's order.
	Outputs []TensorInfo
	// Warnings say why a requested reshape or layout was not applied.
	Warnings []string
	// EmptyUnsafe lists the model's operators whose engine kernels kill
	// the plugin process on an empty tensor (e.g. ONNX Runtime's LSTM on an
	// empty batch): inputs with a zero dimension must not reach the model.
	EmptyUnsafe []string
	// RTInfo is the model's runtime information as a JSON object, shown by
	// KServe REST model metadata as "rt_info" (OVMS shows an OpenVINO IR's
	// <rt_info><model_info> as {"model_info": {...}}); nil for none.
	RTInfo []byte
}

// TensorRef is a tensor whose bytes lie in the arena. Numeric data is
// little-endian row-major; String data is a sequence of (uint32 LE length,
// bytes) elements.
type TensorRef struct {
	// Name is the model input or output name.
	Name string
	// DType is the element type.
	DType DataType
	// Shape holds the concrete dimensions.
	Shape []int64
	// Offset is the first byte in the arena.
	Offset uint64
	// Length is the number of bytes.
	Length uint64
	// Region is 0 for the arena, else a client region mapped for the
	// plugin (Offset is then relative to the region).
	Region uint32
}

// InferRequest is one inference call.
type InferRequest struct {
	// Model is the version to run.
	Model ModelKey
	// Inputs lie in the host zone of the arena.
	Inputs []TensorRef
	// Outputs names the outputs to compute; empty means all of them.
	Outputs []string
	// Placements are outputs the host wants written into given memory
	// (client shared-memory regions) instead of the plugin zone. The
	// device writes each named output there (Length is the room available)
	// and returns its TensorRef with that Region and Offset.
	Placements []TensorRef
	// SequenceID and SequenceControl address a sequence of a stateful
	// model: the id (0 with SequenceStart: the device assigns one) and the
	// control bits SequenceStart and SequenceEnd (0: a request within the
	// sequence). The host has checked them as OVMS does.
	SequenceID      uint64
	SequenceControl uint32
}

// InferResponse is the result of one inference call.
type InferResponse struct {
	// Outputs lie in the plugin zone of the arena.
	Outputs []TensorRef
	// Lease identifies the output buffers for Client.Release. The SDK sets
	// it; device implementations leave it zero.
	Lease uint64
	// EngineStart and EngineEnd are when the engine ran the request (wall
	// clock, Unix nanoseconds), for the core's trace spans; zero: not
	// reported.
	EngineStart, EngineEnd int64
	// SequenceID is the sequence a stateful model's request ran in.
	SequenceID uint64
}
