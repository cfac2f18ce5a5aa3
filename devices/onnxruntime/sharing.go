package onnxruntime

/*
#include "ortshim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
)

var (
	arenaMu   sync.Mutex
	envArena  bool // RegisterSharedCPUArena succeeded; guarded by arenaMu
	arenaOnce error
)

// RegisterSharedCPUArena registers one CPU arena allocator with the
// process-wide environment (ONNX Runtime's CreateAndRegisterAllocator, with
// its default arena settings), creating the environment if needed. Sessions
// with SessionOptions.UseEnvAllocators then allocate their CPU memory from
// it instead of an arena of their own. Calling it again is a no-op.
func RegisterSharedCPUArena() error {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	if envArena {
		return nil
	}
	env, _, err := getEnv()
	if err != nil {
		return err
	}
	if err := statusErr(C.ortgo_register_cpu_arena(env)); err != nil {
		return fmt.Errorf("onnxruntime: register the shared CPU arena: %w", err)
	}
	envArena = true
	return nil
}

// sharedArena reports whether RegisterSharedCPUArena succeeded.
func sharedArena() bool {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	return envArena
}

// PrepackedWeights is a container of the weights that ONNX Runtime's
// kernels prepack (MatMul, Gemm, ... reorder their constant inputs once,
// at session creation), shared by the sessions created with it
// (SessionOptions.PrepackedWeights): sessions of the same model keep one
// copy instead of one each. It must stay open while any of those sessions
// lives.
type PrepackedWeights struct {
	p *C.OrtPrepackedWeightsContainer
}

// NewPrepackedWeights creates an empty container.
func NewPrepackedWeights() (*PrepackedWeights, error) {
	if !loaded.Load() {
		return nil, ErrNotInitialized
	}
	var p *C.OrtPrepackedWeightsContainer
	if err := statusErr(C.ortgo_create_prepacked(&p)); err != nil {
		return nil, fmt.Errorf("onnxruntime: create prepacked weights container: %w", err)
	}
	return &PrepackedWeights{p: p}, nil
}

// Close releases the container; the sessions created with it must be
// closed first. It is idempotent.
func (w *PrepackedWeights) Close() {
	if w == nil || w.p == nil {
		return
	}
	C.ortgo_release_prepacked(w.p)
	w.p = nil
}

var errClosedPrepacked = errors.New("onnxruntime: create session: the prepacked weights container is closed")
