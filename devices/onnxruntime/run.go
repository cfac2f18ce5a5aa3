package onnxruntime

/*
#include "ortshim.h"

// Nothing calls back into Go from C (see ortgo_logger), so the arrays Run
// passes may stay on the stack.
#cgo noescape ortgo_run
#cgo nocallback ortgo_run
*/
import "C"

import (
	"context"
	"fmt"
	"strings"
)

// stackValues is how many inputs or outputs Run handles without allocating.
const stackValues = 16

// Run runs the model. inputNames[i] names the model input that inputs[i]
// feeds; outputNames[i] names an output to compute into outputs[i]. An
// outputs[i] that is non-nil is a preallocated tensor of the right type and
// shape (for example over shared memory) that ONNX Runtime writes into; a
// nil one is allocated by ONNX Runtime and stored into outputs[i], and the
// caller must Close it. Only the outputs named are computed.
//
// Run is safe to call from many goroutines on one session (ONNX Runtime's
// Run is thread-safe) as long as each call has its own outputs. It takes no
// locks and, with up to 16 inputs and outputs and every output
// preallocated, makes no heap allocation.
func (s *Session) Run(inputNames []string, inputs []*Value, outputNames []string, outputs []*Value) error {
	if err := s.run(nil, inputNames, inputs, outputNames, outputs); err != nil {
		return fmt.Errorf("onnxruntime: run: %w", err)
	}
	return nil
}

// RunWithOptions is Run honouring ctx: when ctx is done before Run returns,
// ONNX Runtime is told to terminate the run (RunOptionsSetTerminate), which
// it does between nodes, and the error wraps ctx.Err().
func (s *Session) RunWithOptions(ctx context.Context, inputNames []string, inputs []*Value, outputNames []string, outputs []*Value) error {
	if ctx.Done() == nil {
		return s.Run(inputNames, inputs, outputNames, outputs)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("onnxruntime: run: %w", err)
	}
	var ro *C.OrtRunOptions
	if err := statusErr(C.ortgo_create_run_options(&ro)); err != nil {
		return fmt.Errorf("onnxruntime: run: create run options: %w", err)
	}
	defer C.ortgo_release_run_options(ro)
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = statusErr(C.ortgo_run_options_terminate(ro))
		close(terminated)
	})
	err := s.run(ro, inputNames, inputs, outputNames, outputs)
	if !stop() {
		<-terminated // ro must outlive the terminate call
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("onnxruntime: run: %w (%w)", cerr, err)
		}
		return fmt.Errorf("onnxruntime: run: %w", err)
	}
	return nil
}

func (s *Session) run(ro *C.OrtRunOptions, inputNames []string, inputs []*Value, outputNames []string, outputs []*Value) error {
	h := s.h.Load()
	if h == nil {
		return errSessionClosed
	}
	if len(inputNames) != len(inputs) || len(outputNames) != len(outputs) {
		return fmt.Errorf("%d input names for %d inputs, %d output names for %d outputs",
			len(inputNames), len(inputs), len(outputNames), len(outputs))
	}
	var inIdxBuf, outIdxBuf [stackValues]int32
	var inBuf, outBuf [stackValues]*C.OrtValue
	inIdx, in := inIdxBuf[:], inBuf[:]
	if len(inputs) > stackValues {
		inIdx, in = make([]int32, len(inputs)), make([]*C.OrtValue, len(inputs))
	}
	var allocatedBuf [stackValues]bool // outputs[i] allocated by this call
	outIdx, out, allocated := outIdxBuf[:], outBuf[:], allocatedBuf[:]
	if len(outputs) > stackValues {
		outIdx, out, allocated = make([]int32, len(outputs)), make([]*C.OrtValue, len(outputs)), make([]bool, len(outputs))
	}
	// Every model input must be fed exactly once: ONNX Runtime does not
	// check that required inputs are present and kernels may then crash.
	var seenBits uint64
	var seen []bool
	if len(s.inputs) > 64 {
		seen = make([]bool, len(s.inputs))
	}
	for i, name := range inputNames {
		idx, ok := s.inIndex[name]
		if !ok {
			return fmt.Errorf("unknown input %q (model inputs: %s)", name, names(s.inputs))
		}
		if dup := markSeen(&seenBits, seen, idx); dup {
			return fmt.Errorf("input %q given twice", name)
		}
		if inputs[i] == nil || inputs[i].p == nil {
			return fmt.Errorf("input %q: nil or closed value", name)
		}
		inIdx[i], in[i] = idx, inputs[i].p
	}
	if len(inputNames) != len(s.inputs) {
		for i, ti := range s.inputs {
			if !markSeen(&seenBits, seen, int32(i)) {
				return fmt.Errorf("missing input %q (model inputs: %s)", ti.Name, names(s.inputs))
			}
		}
	}
	for i, name := range outputNames {
		idx, ok := s.outIndex[name]
		if !ok {
			return fmt.Errorf("unknown output %q (model outputs: %s)", name, names(s.outputs))
		}
		outIdx[i], out[i] = idx, nil
		if v := outputs[i]; v != nil {
			if v.p == nil {
				return fmt.Errorf("output %q: closed value", name)
			}
			out[i] = v.p
		}
	}
	st := C.ortgo_run(h.p, ro,
		s.inNames, (*C.int32_t)(&inIdx[0]), &in[0], C.size_t(len(inputs)),
		s.outNames, (*C.int32_t)(&outIdx[0]), &out[0], C.size_t(len(outputs)))
	if err := statusErr(st); err != nil {
		for i, v := range outputs {
			if v == nil && out[i] != nil {
				C.ortgo_release_value(out[i])
			}
		}
		return err
	}
	// Wrap what ONNX Runtime allocated. On failure (not expected: it only
	// queries type and shape) undo, so that the nil outputs are nil again.
	for i := range outputs {
		if out[i] == nil || outputs[i] != nil {
			continue
		}
		nv, err := valueFromORT(out[i])
		if err != nil {
			for j := range outputs {
				switch {
				case j < i && allocated[j]:
					outputs[j].Close()
					outputs[j] = nil
				case j >= i && outputs[j] == nil && out[j] != nil:
					C.ortgo_release_value(out[j])
				}
			}
			return fmt.Errorf("output %q: %w", outputNames[i], err)
		}
		outputs[i] = nv
		allocated[i] = true
	}
	return nil
}

// markSeen marks input idx as seen and reports whether it already was.
func markSeen(bits *uint64, seen []bool, idx int32) bool {
	if seen != nil {
		was := seen[idx]
		seen[idx] = true
		return was
	}
	was := *bits&(1<<idx) != 0
	*bits |= 1 << idx
	return was
}

func names(infos []TensorInfo) string {
	n := make([]string, len(infos))
	for i, ti := range infos {
		n[i] = ti.Name
	}
	return strings.Join(n, ", ")
}
