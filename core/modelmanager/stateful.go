package modelmanager

import (
	"encoding/binary"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Stateful models (docs/stateful.md): requests name their sequence with the
// special inputs sequence_id (UINT64 [1]) and sequence_control_input
// (UINT32 [1]: 0 none, 1 start, 2 end), or in KServe with Triton's request
// parameters; the core checks them with OVMS's messages, strips them from
// the inputs and passes {id, control} to the device plugin, which keeps
// each sequence's state next to the model. Every response carries the
// output sequence_id.

// The special inputs and output of stateful models.
const (
	SequenceIDName      = "sequence_id"
	SequenceControlName = "sequence_control_input"
)

// stateful reports whether the version serves a stateful model.
func (v *Version) stateful() bool { return v.mod != nil && v.mod.cfg.Stateful }

// Stateful reports whether the version serves a stateful model.
func (v *Version) Stateful() bool { return v.stateful() }

// ValidateInputCount is the first check of a request's inputs, for adapters
// that make it before decoding: tensor.ValidateCount, where a stateful
// model also takes the special inputs that the request names (OVMS counts
// them as expected inputs). name gives the request's i-th input name.
func (v *Version) ValidateInputCount(n int, name func(i int) string) error {
	inputs := v.Info().Inputs
	if !v.stateful() {
		return tensor.ValidateCount(inputs, n)
	}
	special := 0
	for i := range n {
		if s := name(i); s == SequenceIDName || s == SequenceControlName {
			special++
		}
	}
	if n == 0 || n != len(inputs)+special {
		return apierr.Newf(apierr.InvalidNoOfInputs, "Expected: %d; Actual: %d", len(inputs)+special, n)
	}
	return nil
}

// takeSequence checks a stateful model's request as OVMS does (the special
// inputs: shapes, proto fields, control value, id), removes the special
// inputs from req.Inputs and sets req.Sequence. Without special inputs,
// Triton's parameters (req.Sequence as the adapter set it) are used.
func (v *Version) takeSequence(req *tensor.Request) error {
	var idIn, ctlIn *tensor.Input
	for i := range req.Inputs {
		switch req.Inputs[i].Name {
		case SequenceIDName:
			idIn = &req.Inputs[i]
		case SequenceControlName:
			ctlIn = &req.Inputs[i]
		}
	}
	// The input count, as OVMS's validator counts it.
	special := 0
	if idIn != nil {
		special++
	}
	if ctlIn != nil {
		special++
	}
	if want := len(v.info.Inputs) + special; len(req.Inputs) != want {
		return apierr.Newf(apierr.InvalidNoOfInputs, "Expected: %d; Actual: %d", want, len(req.Inputs))
	}
	seq := tensor.Sequence{}
	if req.Sequence != nil && special == 0 {
		seq = *req.Sequence
	}
	if idIn != nil {
		if err := specialShape(idIn); err != nil {
			return err
		}
		id, ok := specialValue(idIn, device.Uint64, req.API)
		if !ok {
			return apierr.New(apierr.SequenceIDBadType)
		}
		seq.ID = id
	}
	if ctlIn != nil {
		if err := specialShape(ctlIn); err != nil {
			return err
		}
		c, ok := specialValue(ctlIn, device.Uint32, req.API)
		if !ok {
			return apierr.New(apierr.SequenceControlInputBadType)
		}
		seq.Control = uint32(c)
	}
	if seq.Control > device.SequenceStart|device.SequenceEnd || (special > 0 && seq.Control == device.SequenceStart|device.SequenceEnd) {
		return apierr.New(apierr.InvalidSequenceControlInput)
	}
	if seq.Control&device.SequenceStart == 0 && seq.ID == 0 {
		return apierr.New(apierr.SequenceIDNotProvided)
	}
	if special > 0 {
		kept := make([]tensor.Input, 0, len(req.Inputs)-special)
		for _, in := range req.Inputs {
			if in.Name != SequenceIDName && in.Name != SequenceControlName {
				kept = append(kept, in)
			}
		}
		req.Inputs = kept
	}
	// One sequence per request: a dynamic batch dimension takes 1 (a
	// static one is checked by the usual validation).
	for i := range req.Inputs {
		in := &req.Inputs[i]
		for j := range v.info.Inputs {
			if m := &v.info.Inputs[j]; m.Name == in.Name && len(m.Shape) > 0 && m.Shape[0] < 0 && len(in.Shape) > 0 && in.Shape[0] > 1 {
				return apierr.Newf(apierr.InvalidBatchSize, "Expected: 1; Actual: %d; input name: %s; a request of a stateful model carries one sequence", in.Shape[0], in.Name)
			}
		}
	}
	req.Sequence = &seq
	// The sequence_id output is always returned; a client may name it.
	if len(req.Outputs) > 0 {
		kept := make([]string, 0, len(req.Outputs))
		for _, o := range req.Outputs {
			if o != SequenceIDName {
				kept = append(kept, o)
			}
		}
		req.Outputs = kept
		if len(kept) == 0 {
			req.Outputs = nil
		}
	}
	return nil
}

// specialShape is OVMS's shape check of a special input: shape (1).
func specialShape(in *tensor.Input) error {
	switch {
	case len(in.Shape) == 0:
		return apierr.New(apierr.SpecialInputNoTensorShape)
	case len(in.Shape) != 1:
		return apierr.Newf(apierr.InvalidNoOfShapeDimensions, "Required shape for %s is: (1)", in.Name)
	case in.Shape[0] != 1:
		return apierr.Newf(apierr.InvalidShape, "Required shape for %s is: (1)", in.Name)
	}
	return nil
}

// specialValue reads a special input's one value from the typed field
// OVMS reads it from (uint64_val / uint32_val, KServe's uint64_contents /
// uint32_contents, JSON numbers); KServe requests may also give it as raw
// little-endian bytes of its type.
func specialValue(in *tensor.Input, dt device.DataType, api tensor.API) (uint64, bool) {
	if in.DType != dt {
		return 0, false
	}
	switch vals := in.Values.(type) {
	case tensor.Numbers[uint64]:
		if dt == device.Uint64 && len(vals) == 1 && in.Excess == 0 {
			return vals[0], true
		}
	case tensor.Numbers[uint32]:
		if dt == device.Uint32 && len(vals) == 1 && in.Excess == 0 {
			return uint64(vals[0]), true
		}
	}
	if api != tensor.KServe || !in.HasRaw || in.RawLen() != dt.Size() {
		return 0, false
	}
	b := in.Raw
	if in.RawParts != nil {
		for _, p := range in.RawParts {
			b = append(b[:len(b):len(b)], p...)
		}
	}
	if dt == device.Uint64 {
		return binary.LittleEndian.Uint64(b), true
	}
	return uint64(binary.LittleEndian.Uint32(b)), true
}

// sequenceError maps a device's sequence error to OVMS's status.
func sequenceError(se device.SequenceError) error {
	switch se {
	case device.SequenceMissing:
		return apierr.New(apierr.SequenceMissing)
	case device.SequenceExists:
		return apierr.New(apierr.SequenceAlreadyExists)
	case device.SequenceTerminated:
		return apierr.New(apierr.SequenceTerminated)
	case device.SequenceLimit:
		return apierr.New(apierr.MaxSequenceNumberReached)
	}
	return apierr.Newf(apierr.InternalError, "sequence error %d", int(se))
}

// sequenceOutput is the sequence_id output of a stateful model's response.
func sequenceOutput(id uint64) tensor.Output {
	return tensor.Output{Name: SequenceIDName, DType: device.Uint64, Shape: tensor.Shape{1},
		Data: binary.LittleEndian.AppendUint64(nil, id), Length: 8, Sequence: true}
}

// statefulSettings are the Load settings of a stateful model; nil for
// others.
func (m *Manager) statefulSettings(mod *Model) *device.Stateful {
	cfg := mod.cfg
	if !cfg.Stateful {
		return nil
	}
	s := &device.Stateful{MaxSequenceNumber: cfg.MaxSequenceNumber, LowLatencyTransformation: cfg.LowLatencyTransformation,
		StateMapping: cfg.StateMapping}
	if cfg.IdleSequenceCleanup {
		s.IdleCleanup = m.sequenceCleaner
	}
	return s
}

// SetSequenceCleaner sets the sequence cleaner's interval
// (--sequence_cleaner_poll_wait_minutes): the sequences of stateful models
// with idle_sequence_cleanup that got no request for a whole interval are
// dropped. 0 turns it off. Call it before Apply.
func (m *Manager) SetSequenceCleaner(d time.Duration) { m.sequenceCleaner = d }

// previousVersion is the version whose sequences a stateful version being
// loaded takes over: the served default version of the model's name (of
// the configuration being replaced, or of this one when a new version
// folder appeared), or nil.
func (m *Manager) previousVersion(mod *Model, v *Version) *device.ModelKey {
	cur := (*m.models.Load())[mod.Name]
	if cur == nil || !cur.cfg.Stateful {
		return nil
	}
	d := cur.Default()
	if d == nil || d == v || d.key == v.key {
		return nil
	}
	k := d.key
	return &k
}
