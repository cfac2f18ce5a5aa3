package onnxruntime

/*
#include <stdlib.h>
#include "ortshim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync/atomic"
	"unsafe"
)

// TensorInfo describes a session input or output.
type TensorInfo struct {
	Name  string
	Type  ElementType
	Shape []int64 // -1 for a dynamic or symbolic dimension; empty for a scalar
	// Symbols holds each dimension's symbolic name ("" for none), as the
	// model declares it or, where it declares none, as ONNX Runtime's shape
	// inference named it. In ONNX an output dimension with an input
	// dimension's symbol has that input dimension's size, but a model file
	// can declare names that do not hold. Nil when no dimension has one.
	Symbols []string
}

// Session is a model loaded into ONNX Runtime. Run may be called from many
// goroutines at once. Close must not be called while a Run is in flight.
type Session struct {
	h        atomic.Pointer[sessionHandle] // nil once closed
	inputs   []TensorInfo
	outputs  []TensorInfo
	inIndex  map[string]int32
	outIndex map[string]int32
	inNames  **C.char // C array of C strings, in session order; freed by Close
	outNames **C.char
}

// sessionHandle boxes the C pointer: atomic.Pointer cannot hold a pointer
// to an incomplete C type.
type sessionHandle struct{ p *C.OrtSession }

var errSessionClosed = errors.New("onnxruntime: session is closed")

// useEnvAllocatorsKey is ONNX Runtime's session config entry that makes a
// session use the allocators registered with the environment.
const useEnvAllocatorsKey = "session.use_env_allocators"

// Session config entries that would let ONNX Runtime keep pointers into
// the caller's model slice after NewSession returns.
var forbiddenConfig = []string{"session.use_ort_model_bytes_directly", "session.use_ort_model_bytes_for_initializers"}

var onnxTypeNames = [...]string{"an unknown type", "a tensor", "a sequence", "a map", "an opaque value",
	"a sparse tensor", "an optional"}

// NewSession creates a session from an ONNX (or ORT format) model held in
// memory. ONNX Runtime copies what it needs: model may be reused after the
// call. Inputs and outputs must all be tensors: a model with a sequence, map
// or optional input or output is rejected with an error naming it.
func NewSession(model []byte, opts SessionOptions) (*Session, error) {
	env, pools, err := getEnv()
	if err != nil {
		return nil, err
	}
	if len(model) == 0 {
		return nil, errors.New("onnxruntime: create session: empty model")
	}
	if opts.UseEnvAllocators && !sharedArena() {
		return nil, errors.New("onnxruntime: create session: UseEnvAllocators is set but no shared CPU arena is registered (call RegisterSharedCPUArena first)")
	}
	if opts.UseGlobalThreadPools && !pools {
		return nil, errors.New("onnxruntime: create session: UseGlobalThreadPools is set but the environment has no global thread pools (SetGlobalThreadPools must be called before the first session)")
	}
	o, err := newSessionOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: create session: %w", err)
	}
	defer C.ortgo_release_session_options(o)
	var pin runtime.Pinner // the external files, until the session holds its copy
	defer pin.Unpin()
	if err := addExternalFiles(o, opts.ExternalFiles, &pin); err != nil {
		return nil, fmt.Errorf("onnxruntime: create session: %w", err)
	}
	if err := addInitializers(o, opts.Initializers); err != nil {
		return nil, fmt.Errorf("onnxruntime: create session: %w", err)
	}
	var p *C.OrtSession
	var st *C.OrtStatus
	if w := opts.PrepackedWeights; w != nil {
		if w.p == nil {
			return nil, errClosedPrepacked
		}
		st = C.ortgo_create_session_prepacked(env, unsafe.Pointer(&model[0]), C.size_t(len(model)), o, w.p, &p)
	} else {
		st = C.ortgo_create_session(env, unsafe.Pointer(&model[0]), C.size_t(len(model)), o, &p)
	}
	if err := statusErr(st); err != nil {
		return nil, fmt.Errorf("onnxruntime: create session: %w", err)
	}
	s := &Session{}
	s.h.Store(&sessionHandle{p})
	if s.inputs, s.inNames, err = ioInfo(p, 0); err == nil {
		s.outputs, s.outNames, err = ioInfo(p, 1)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("onnxruntime: create session: %w", err)
	}
	s.inIndex, s.outIndex = index(s.inputs), index(s.outputs)
	return s, nil
}

func newSessionOptions(opts SessionOptions) (*C.OrtSessionOptions, error) {
	if opts.IntraOpThreads < 0 || opts.InterOpThreads < 0 {
		return nil, fmt.Errorf("negative thread count (intra-op %d, inter-op %d)", opts.IntraOpThreads, opts.InterOpThreads)
	}
	if opts.UseGlobalThreadPools && (opts.IntraOpThreads > 0 || opts.InterOpThreads > 0) {
		return nil, fmt.Errorf("UseGlobalThreadPools runs the session on the environment's pools: it cannot have its own thread counts (intra-op %d, inter-op %d)",
			opts.IntraOpThreads, opts.InterOpThreads)
	}
	var level C.int
	switch opts.GraphOptimization {
	case OptimizeAll:
		level = C.ORT_ENABLE_ALL
	case OptimizeDisable:
		level = C.ORT_DISABLE_ALL
	case OptimizeBasic:
		level = C.ORT_ENABLE_BASIC
	case OptimizeExtended:
		level = C.ORT_ENABLE_EXTENDED
	default:
		return nil, fmt.Errorf("unknown graph optimization level %d", int(opts.GraphOptimization))
	}
	for _, k := range forbiddenConfig {
		if _, ok := opts.ConfigEntries[k]; ok {
			return nil, fmt.Errorf("session config entry %q is not supported (the model buffer is not kept)", k)
		}
	}
	var o *C.OrtSessionOptions
	if err := statusErr(C.ortgo_create_session_options(&o)); err != nil {
		return nil, err
	}
	steps := []func() *C.OrtStatus{
		func() *C.OrtStatus { return C.ortgo_set_graph_optimization(o, level) },
	}
	if opts.IntraOpThreads > 0 {
		steps = append(steps, func() *C.OrtStatus { return C.ortgo_set_intra_op_threads(o, C.int(opts.IntraOpThreads)) })
	}
	if opts.InterOpThreads > 0 {
		steps = append(steps, func() *C.OrtStatus { return C.ortgo_set_inter_op_threads(o, C.int(opts.InterOpThreads)) })
	}
	if opts.Parallel {
		steps = append(steps, func() *C.OrtStatus { return C.ortgo_set_execution_mode(o, C.ORT_PARALLEL) })
	}
	if opts.UseGlobalThreadPools {
		steps = append(steps, func() *C.OrtStatus { return C.ortgo_disable_per_session_threads(o) })
	}
	if opts.UseEnvAllocators {
		steps = append(steps, func() *C.OrtStatus {
			k, v := C.CString(useEnvAllocatorsKey), C.CString("1")
			defer C.free(unsafe.Pointer(k))
			defer C.free(unsafe.Pointer(v))
			return C.ortgo_add_config_entry(o, k, v)
		})
	}
	for _, step := range steps {
		if err := statusErr(step()); err != nil {
			C.ortgo_release_session_options(o)
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(opts.ConfigEntries)) {
		ck, cv := C.CString(k), C.CString(opts.ConfigEntries[k])
		err := statusErr(C.ortgo_add_config_entry(o, ck, cv))
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if err != nil {
			C.ortgo_release_session_options(o)
			return nil, fmt.Errorf("session config entry %s=%q: %w", k, opts.ConfigEntries[k], err)
		}
	}
	if opts.CUDA {
		if err := appendCUDA(o); err != nil {
			C.ortgo_release_session_options(o)
			return nil, fmt.Errorf("CUDA execution provider: %w", err)
		}
	}
	for _, lib := range opts.CustomOpLibraries {
		cl := C.CString(lib)
		err := statusErr(C.ortgo_register_custom_ops(o, cl))
		C.free(unsafe.Pointer(cl))
		if err != nil {
			C.ortgo_release_session_options(o)
			return nil, fmt.Errorf("custom op library %s: %w", lib, err)
		}
	}
	return o, nil
}

// addInitializers hands o the shared initializers (see
// SessionOptions.Initializers); ONNX Runtime copies their names.
func addInitializers(o *C.OrtSessionOptions, inits []Initializer) error {
	for _, in := range inits {
		if in.Value == nil || in.Value.p == nil {
			return fmt.Errorf("initializer %q: no value", in.Name)
		}
		name := C.CString(in.Name)
		err := statusErr(C.ortgo_add_initializer(o, name, in.Value.p))
		C.free(unsafe.Pointer(name))
		if err != nil {
			return fmt.Errorf("initializer %q: %w", in.Name, err)
		}
	}
	return nil
}

// addExternalFiles hands files to o (see SessionOptions.ExternalFiles). ONNX
// Runtime keeps pointers to their data until the session is created, so
// the data is pinned with pin, which the caller releases after that.
func addExternalFiles(o *C.OrtSessionOptions, files []ExternalFile, pin *runtime.Pinner) error {
	if len(files) == 0 {
		return nil
	}
	n := len(files)
	ptrSize := C.size_t(unsafe.Sizeof(uintptr(0)))
	names := (*[1 << 28]*C.char)(C.malloc(C.size_t(n) * ptrSize))[:n:n]
	bufs := (*[1 << 28]*C.char)(C.malloc(C.size_t(n) * ptrSize))[:n:n]
	lens := (*[1 << 28]C.size_t)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.size_t(0)))))[:n:n]
	defer func() {
		for _, c := range names {
			C.free(unsafe.Pointer(c))
		}
		C.free(unsafe.Pointer(&names[0]))
		C.free(unsafe.Pointer(&bufs[0]))
		C.free(unsafe.Pointer(&lens[0]))
	}()
	seen := map[string]bool{}
	for i, f := range files {
		if f.Name == "" || seen[f.Name] || len(f.Data) == 0 {
			for j := i; j < n; j++ {
				names[j] = nil
			}
			return fmt.Errorf("external file %d: a unique name and some data are needed (name %q, %d bytes)", i, f.Name, len(f.Data))
		}
		seen[f.Name] = true
		pin.Pin(&f.Data[0])
		names[i] = C.CString(f.Name)
		bufs[i] = (*C.char)(unsafe.Pointer(&f.Data[0]))
		lens[i] = C.size_t(len(f.Data))
	}
	if err := statusErr(C.ortgo_add_external_files(o, &names[0], &bufs[0], &lens[0], C.size_t(n))); err != nil {
		return fmt.Errorf("external initializer files: %w", err)
	}
	return nil
}

// ioInfo reads the inputs (output 0) or outputs (output 1) of a session and
// returns them with a C array of their names.
func ioInfo(p *C.OrtSession, output C.int) ([]TensorInfo, **C.char, error) {
	what := [2]string{"input", "output"}[output]
	var n C.size_t
	if err := statusErr(C.ortgo_io_count(p, output, &n)); err != nil {
		return nil, nil, fmt.Errorf("count %ss: %w", what, err)
	}
	// One extra slot so that the array is never zero-sized.
	names := (**C.char)(C.calloc(n+1, C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	cnames := unsafe.Slice(names, int(n))
	infos := make([]TensorInfo, n)
	for i := range infos {
		var onnxType, elem C.int
		var nd C.size_t
		dims := make([]int64, 8)
		syms := make([]*C.char, len(dims))
		for {
			err := statusErr(C.ortgo_io_info(p, output, C.size_t(i), &cnames[i], &onnxType, &elem,
				(*C.int64_t)(unsafe.Pointer(&dims[0])), &syms[0], C.size_t(len(dims)), &nd))
			symbols := takeSymbols(syms)
			if err != nil {
				freeNames(names, int(n))
				return nil, nil, fmt.Errorf("%s %d: %w", what, i, err)
			}
			if int(nd) <= len(dims) {
				if symbols != nil {
					infos[i].Symbols = slices.Clip(symbols[:nd])
				}
				break
			}
			C.free(unsafe.Pointer(cnames[i]))
			cnames[i] = nil
			dims = make([]int64, nd)
			syms = make([]*C.char, nd)
		}
		name := C.GoString(cnames[i])
		if onnxType != C.ONNX_TYPE_TENSOR {
			kind := fmt.Sprintf("of ONNX type %d", int(onnxType))
			if int(onnxType) < len(onnxTypeNames) {
				kind = onnxTypeNames[onnxType]
			}
			freeNames(names, int(n))
			return nil, nil, fmt.Errorf("%s %q is %s, not a tensor: only tensor inputs and outputs are supported", what, name, kind)
		}
		infos[i].Name, infos[i].Type, infos[i].Shape = name, ElementType(elem), slices.Clip(dims[:nd])
	}
	return infos, names, nil
}

// takeSymbols converts and frees the C strings ortgo_io_info left in syms
// (resetting them to nil); nil when there are none.
func takeSymbols(syms []*C.char) []string {
	var out []string
	for i, c := range syms {
		if c == nil {
			continue
		}
		if out == nil {
			out = make([]string, len(syms))
		}
		out[i] = C.GoString(c)
		C.free(unsafe.Pointer(c))
		syms[i] = nil
	}
	return out
}

func freeNames(names **C.char, n int) {
	if names == nil {
		return
	}
	for _, c := range unsafe.Slice(names, n) {
		C.free(unsafe.Pointer(c))
	}
	C.free(unsafe.Pointer(names))
}

func index(infos []TensorInfo) map[string]int32 {
	m := make(map[string]int32, len(infos))
	for i, ti := range infos {
		m[ti.Name] = int32(i)
	}
	return m
}

func cloneInfos(infos []TensorInfo) []TensorInfo {
	out := slices.Clone(infos)
	for i := range out {
		out[i].Shape = slices.Clone(out[i].Shape)
		out[i].Symbols = slices.Clone(out[i].Symbols)
	}
	return out
}

// Inputs returns the model's inputs in session order (initializers that
// may be overridden are not listed). The slice is a copy.
func (s *Session) Inputs() []TensorInfo { return cloneInfos(s.inputs) }

// Outputs returns the model's outputs in session order. The slice is a copy.
func (s *Session) Outputs() []TensorInfo { return cloneInfos(s.outputs) }

// Close releases the session. It is idempotent, but must not be called
// while a Run on the session is in flight: the caller (the device plugin)
// drains requests before unloading. Values created by Run stay valid.
func (s *Session) Close() {
	h := s.h.Swap(nil)
	if h == nil {
		return
	}
	C.ortgo_release_session(h.p)
	freeNames(s.inNames, len(s.inputs))
	freeNames(s.outNames, len(s.outputs))
	s.inNames, s.outNames = nil, nil
}
