package ortdevice

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/devices/irtoonnx"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/device"
)

// A stateful model (OVMS's stateful, docs/stateful.md) keeps the state of
// each sequence here, next to its sessions: nothing of it crosses the
// process boundary. The state is the model's state inputs, each fed on a
// sequence's next request by its paired state output (state_mapping for
// ONNX models; the state_in/<id> -> state_out/<id> pairs of a translated
// OpenVINO IR). The state inputs and outputs are not part of the metadata
// the host sees, so requests neither send nor receive them.

// stateSlot is one state of a stateful model.
type stateSlot struct {
	in, out string
	dtype   device.DataType
	// shape is the state input's declared shape (-1: dynamic), outShape
	// the state output's.
	shape, outShape []int64
	// from says where a dynamic dimension's size comes from at a
	// sequence's start: {request input, dimension} of a data input with
	// the same symbolic dimension; {-1, -1} when none (size 1).
	from [][2]int
	// emptyStart: a translated IR state takes an empty tensor for "no value
	// yet" (ReadValue then yields its initial value).
	emptyStart bool
}

// sequence is one sequence of a stateful model. Its fields are guarded by
// the store's mutex, except state and shapes, which only the request that
// holds the sequence's turn (see begin) touches.
type sequence struct {
	// running marks a request of the sequence running; the requests that
	// arrive meanwhile wait in waiters, in arrival order, each woken by
	// the one before when it is done (requests of a sequence run one at a
	// time, in the order they arrived). An uncontended step allocates no
	// channel.
	running bool
	waiters []chan struct{}
	// inflight counts requests queued or running; the cleaner leaves the
	// sequence alone while it is not zero.
	inflight int
	// used marks a request since the cleaner's last scan.
	used bool
	// terminated marks a sequence whose end is being processed.
	terminated bool

	state  [][]byte  // per slot; nil before the first request
	shapes [][]int64 // per slot
	// spare are buffers a request's state outputs of static shape are
	// written into (no copy): they become the state when it succeeds, and
	// the old state becomes the spare.
	spare [][]byte
	// kept holds, for a slot whose state has one static shape (declared
	// for the output, and the input's as fixed at the start), the two
	// engine tensors the state alternates between, in C memory made at
	// the sequence's first request: kept[i][cur[i]] is the state the next
	// request reads, the other one takes its state output. Such a step
	// makes no tensor and pins nothing. nil entries: the slot uses state
	// and spare instead.
	kept [][2]*ort.Value
	cur  []int
	// dropped marks a sequence removed from the store while requests held
	// it: the last one to finish frees its tensors.
	dropped bool
}

// free releases the sequence's engine tensors (under the store's mutex,
// once no request holds the sequence).
func (q *sequence) free() {
	for i := range q.kept {
		for _, v := range q.kept[i] {
			if v != nil {
				v.Close()
			}
		}
		q.kept[i] = [2]*ort.Value{}
	}
}

// drop removes q from the store (under its mutex): its tensors are freed
// now, or by the last request holding it.
func (s *sequences) drop(id uint64, q *sequence) {
	delete(s.seqs, id)
	if q.inflight > 0 {
		q.dropped = true
		return
	}
	q.free()
}

// sequences is the sequence store of a loaded stateful model version.
type sequences struct {
	cfg   device.Stateful
	slots []stateSlot
	log   *logrus.Entry

	mu   sync.Mutex
	seqs map[uint64]*sequence
	next uint64 // last server-assigned id

	stop chan struct{}
	done chan struct{}
	// users counts the model versions sharing the store (a new version
	// takes over its predecessor's, see takeOver); the last close ends it.
	users atomic.Int32
}

// newSequences sets up the sequence store of a stateful model: it pairs
// the state inputs and outputs and removes them from info (the host's
// view). model is the ONNX graph the sessions run (read only for symbolic
// dimensions), ir tells a translated OpenVINO IR.
func newSequences(cfg *device.Stateful, info *device.ModelInfo, model []byte, ir bool, log *logrus.Entry) (*sequences, error) {
	mapping := cfg.StateMapping
	if len(mapping) == 0 && ir {
		mapping = map[string]string{}
		for _, in := range info.Inputs {
			if id, ok := strings.CutPrefix(in.Name, "state_in/"); ok {
				mapping[in.Name] = irtoonnx.StateOutputName(id)
			}
		}
	}
	ins, outs := byName(info.Inputs), byName(info.Outputs)
	names := make([]string, 0, len(mapping))
	for in := range mapping {
		names = append(names, in)
	}
	sort.Strings(names)
	s := &sequences{cfg: *cfg, log: log, seqs: map[uint64]*sequence{}}
	s.users.Store(1)
	for _, in := range names {
		out := mapping[in]
		ti, ok := ins[in]
		if !ok {
			return nil, fmt.Errorf("state_mapping: the model has no input %q", in)
		}
		to, ok := outs[out]
		if !ok {
			return nil, fmt.Errorf("state_mapping: the model has no output %q (for state input %q)", out, in)
		}
		if ti.DType != to.DType || ti.DType == device.String {
			return nil, fmt.Errorf("state_mapping: state input %q (%s) and output %q (%s) need one numeric type", in, ti.DType, out, to.DType)
		}
		s.slots = append(s.slots, stateSlot{in: in, out: out, dtype: ti.DType, shape: ti.Shape, outShape: to.Shape,
			emptyStart: ir && strings.HasPrefix(in, "state_in/")})
	}
	if err := s.dimSources(info, model); err != nil {
		return nil, err
	}
	isState := map[string]bool{}
	for _, sl := range s.slots {
		isState[sl.in], isState[sl.out] = true, true
	}
	info.Inputs = slicesDelete(info.Inputs, isState)
	info.Outputs = slicesDelete(info.Outputs, isState)
	if len(s.slots) == 0 {
		log.Warn("stateful model without state (no state_mapping, no IR state variables): sequences are tracked, nothing is carried between requests")
	}
	if cfg.LowLatencyTransformation {
		log.Info("low_latency_transformation: the state variables of the translated graph are already explicit; nothing else to apply")
	}
	if cfg.IdleCleanup > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.cleaner(cfg.IdleCleanup)
	}
	return s, nil
}

// slicesDelete drops the tensors named in drop.
func slicesDelete(ts []device.TensorInfo, drop map[string]bool) []device.TensorInfo {
	out := ts[:0:0]
	for _, t := range ts {
		if !drop[t.Name] {
			out = append(out, t)
		}
	}
	return out
}

// dimSources finds, for each dynamic dimension of a state, a data input
// dimension with the same symbolic name (ONNX dim_param), which gives its
// size when a sequence starts.
func (s *sequences) dimSources(info *device.ModelInfo, model []byte) error {
	dynamic := false
	for i := range s.slots {
		sl := &s.slots[i]
		sl.from = make([][2]int, len(sl.shape))
		for j, d := range sl.shape {
			sl.from[j] = [2]int{-1, -1}
			dynamic = dynamic || (d < 0 && !sl.emptyStart)
		}
	}
	if !dynamic || model == nil {
		return nil
	}
	mp, err := onnxmodel.Parse(model)
	if err != nil {
		return fmt.Errorf("reading the symbolic dimensions of the state inputs: %w", err)
	}
	params := map[string][]string{}
	for _, in := range mp.GetGraph().GetInput() {
		var ps []string
		for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			ps = append(ps, d.GetDimParam())
		}
		params[in.GetName()] = ps
	}
	for i := range s.slots {
		sl := &s.slots[i]
		for j, p := range params[sl.in] {
			if j >= len(sl.shape) || sl.shape[j] >= 0 || p == "" {
				continue
			}
		search:
			for k, in := range info.Inputs {
				for l, q := range params[in.Name] {
					if q == p {
						sl.from[j] = [2]int{k, l}
						break search
					}
				}
			}
		}
	}
	return nil
}

// close stops the cleaner and drops every sequence, once no other model
// version shares the store.
func (s *sequences) close() {
	if s.users.Add(-1) > 0 {
		return
	}
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	s.mu.Lock()
	for id, q := range s.seqs {
		s.drop(id, q)
	}
	s.mu.Unlock()
}

// cleaner drops, every interval, the sequences that got no request since
// the previous scan (OVMS's sequence cleaner).
func (s *sequences) cleaner(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		dropped := 0
		for id, q := range s.seqs {
			switch {
			case q.inflight > 0:
			case !q.used:
				s.drop(id, q)
				dropped++
			default:
				q.used = false
			}
		}
		left := len(s.seqs)
		s.mu.Unlock()
		if dropped > 0 {
			s.log.WithFields(logrus.Fields{"dropped": dropped, "left": left}).Info("sequence cleaner dropped idle sequences")
		}
	}
}

// compatible reports whether two models have the same state inputs and
// outputs (names, types, declared shapes), so that one's sequences can run
// on the other.
func (s *sequences) compatible(o *sequences) bool {
	if len(s.slots) != len(o.slots) {
		return false
	}
	for i, a := range s.slots {
		b := o.slots[i]
		if a.in != b.in || a.out != b.out || a.dtype != b.dtype || !slices.Equal(a.shape, b.shape) || a.emptyStart != b.emptyStart {
			return false
		}
	}
	return true
}

// takeOver makes a newly loaded version (the store s, still empty) use the
// sequences of its predecessor prev when their states match: the store is
// shared from then on, with s's limits. Otherwise prev's sequences stay
// with prev (and go when it is unloaded), which is logged. It returns the
// store the new version uses.
func (s *sequences) takeOver(prev *sequences) *sequences {
	n := prev.count()
	if !s.compatible(prev) {
		s.log.WithField("sequences", n).Warn("the state inputs of the model changed: the previous version's sequences are dropped")
		return s
	}
	s.close() // empty; stops its cleaner
	prev.users.Add(1)
	prev.mu.Lock()
	prev.cfg.MaxSequenceNumber = s.cfg.MaxSequenceNumber
	prev.mu.Unlock()
	s.log.WithField("sequences", n).Info("sequences taken over from the previous version")
	return prev
}

// count is the number of sequences kept.
func (s *sequences) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seqs)
}

// begin finds or creates the request's sequence, as OVMS's sequence
// manager does, and waits for the sequence's turn. finish must be called
// once the request is done: it lets the sequence's next request run and,
// after an end, drops the sequence.
func (s *sequences) begin(id uint64, control uint32) (q *sequence, _ uint64, finish func(), err error) {
	s.mu.Lock()
	if control&device.SequenceStart != 0 {
		if uint64(len(s.seqs)) >= uint64(s.cfg.MaxSequenceNumber) {
			s.mu.Unlock()
			return nil, 0, nil, device.SequenceLimit
		}
		if id == 0 {
			for {
				s.next++
				if _, taken := s.seqs[s.next]; s.next != 0 && !taken {
					break
				}
			}
			id = s.next
		} else if old, ok := s.seqs[id]; ok {
			s.mu.Unlock()
			if old.terminated {
				return nil, 0, nil, device.SequenceTerminated
			}
			return nil, 0, nil, device.SequenceExists
		}
		n := len(s.slots)
		q = &sequence{state: make([][]byte, n), shapes: make([][]int64, n), spare: make([][]byte, n),
			kept: make([][2]*ort.Value, n), cur: make([]int, n)}
		s.seqs[id] = q
	} else {
		var ok bool
		if q, ok = s.seqs[id]; !ok {
			s.mu.Unlock()
			return nil, 0, nil, device.SequenceMissing
		}
		if q.terminated {
			s.mu.Unlock()
			return nil, 0, nil, device.SequenceTerminated
		}
	}
	if control&device.SequenceEnd != 0 {
		q.terminated = true
	}
	q.used = true
	q.inflight++
	if q.running {
		turn := make(chan struct{})
		q.waiters = append(q.waiters, turn)
		s.mu.Unlock()
		<-turn // the request before handed the turn over
	} else {
		q.running = true
		s.mu.Unlock()
	}
	return q, id, func() {
		s.mu.Lock()
		q.inflight--
		if control&device.SequenceEnd != 0 && s.seqs[id] == q {
			s.drop(id, q)
		}
		if q.dropped && q.inflight == 0 {
			q.free()
		}
		if len(q.waiters) == 0 {
			q.running = false
			s.mu.Unlock()
			return
		}
		next := q.waiters[0]
		q.waiters = q.waiters[1:]
		s.mu.Unlock()
		close(next)
	}, nil
}

// stateInputs appends the state inputs of a request of sequence q to
// names and inputs: its state, or at its start zeros of the declared shape
// (dynamic dimensions from the request's inputs, else 1), or for a
// translated IR an empty tensor (the variables' initial values). A slot
// with one static shape reads the sequence's kept tensor; the others wrap
// the sequence's buffers, pinned with pin, in values the caller closes
// (appended to owned). Nothing is copied.
func (s *sequences) stateInputs(q *sequence, info *device.ModelInfo, req *device.InferRequest, pin *runtime.Pinner,
	names []string, inputs, owned []*ort.Value) ([]string, []*ort.Value, []*ort.Value, error) {
	for i := range s.slots {
		sl := &s.slots[i]
		names = append(names, sl.in)
		if v := q.kept[i][q.cur[i]]; v != nil {
			inputs = append(inputs, v)
			continue
		}
		if q.state[i] == nil {
			shape := s.startShape(sl, info, req)
			if !sl.emptyStart && slices.Equal(shape, sl.outShape) {
				kept, err := keptPair(sl, shape)
				if err != nil {
					return nil, nil, owned, err
				}
				q.kept[i], q.cur[i] = kept, 0
				inputs = append(inputs, kept[0])
				continue
			}
			q.state[i], q.shapes[i] = make([]byte, byteSize(sl.dtype, shape)), shape
		}
		v, err := ort.NewTensor(ort.ElementType(sl.dtype), q.shapes[i], pinBytes(pin, q.state[i]), len(q.state[i]))
		if err != nil {
			return nil, nil, owned, status.Errorf(codes.Internal, "state %s: %v", sl.in, err)
		}
		owned = append(owned, v)
		inputs = append(inputs, v)
	}
	return names, inputs, owned, nil
}

// startShape is the shape of a slot's state at a sequence's start.
func (s *sequences) startShape(sl *stateSlot, info *device.ModelInfo, req *device.InferRequest) []int64 {
	shape := make([]int64, len(sl.shape))
	for j, d := range sl.shape {
		switch {
		case sl.emptyStart:
			shape[j] = 0
		case d >= 0:
			shape[j] = d
		default:
			shape[j] = 1
			if k, l := sl.from[j][0], sl.from[j][1]; k >= 0 {
				for _, in := range req.Inputs {
					if in.Name == info.Inputs[k].Name && l < len(in.Shape) {
						shape[j] = in.Shape[l]
					}
				}
			}
		}
	}
	return shape
}

// keptPair makes the two zeroed tensors a static-shape state alternates
// between.
func keptPair(sl *stateSlot, shape []int64) ([2]*ort.Value, error) {
	var kept [2]*ort.Value
	for k := range kept {
		v, err := ort.NewZeroTensor(ort.ElementType(sl.dtype), shape)
		if err != nil {
			if kept[0] != nil {
				kept[0].Close()
			}
			return [2]*ort.Value{}, status.Errorf(codes.Internal, "state %s: %v", sl.in, err)
		}
		kept[k] = v
	}
	return kept, nil
}

// stateOutputs appends the state outputs of a request of sequence q to
// outputs and prealloc: a kept slot's other tensor; for the other slots of
// static output shape, the sequence's spare buffer (pinned with pin, in a
// value the caller closes, appended to owned), so that ONNX Runtime writes
// the next state in place; nil for the rest (allocated by ONNX Runtime and
// copied by keep).
func (s *sequences) stateOutputs(q *sequence, pin *runtime.Pinner, outputs []*ort.Value, prealloc []bool, owned []*ort.Value) ([]*ort.Value, []bool, []*ort.Value, error) {
	for i := range s.slots {
		sl := &s.slots[i]
		if v := q.kept[i][1-q.cur[i]]; v != nil {
			outputs, prealloc = append(outputs, v), append(prealloc, true)
			continue
		}
		if slices.ContainsFunc(sl.outShape, func(d int64) bool { return d < 0 }) {
			outputs, prealloc = append(outputs, nil), append(prealloc, false)
			continue
		}
		n := byteSize(sl.dtype, sl.outShape)
		if cap(q.spare[i]) < n {
			q.spare[i] = make([]byte, n)
		}
		q.spare[i] = q.spare[i][:n]
		v, err := ort.NewTensor(ort.ElementType(sl.dtype), sl.outShape, pinBytes(pin, q.spare[i]), n)
		if err != nil {
			return nil, nil, owned, status.Errorf(codes.Internal, "state output %s: %v", sl.out, err)
		}
		owned = append(owned, v)
		outputs, prealloc = append(outputs, v), append(prealloc, true)
	}
	return outputs, prealloc, owned, nil
}

// keep makes the state outputs of a request that succeeded its sequence's
// state: a kept slot's by switching its tensors, a preallocated one by
// swapping buffers, another by a copy.
func (s *sequences) keep(q *sequence, outs []*ort.Value, pre []bool) error {
	for i, v := range outs {
		sl := &s.slots[i]
		if q.kept[i][0] != nil {
			q.cur[i] = 1 - q.cur[i]
			continue
		}
		if pre[i] {
			q.state[i], q.spare[i] = q.spare[i], q.state[i]
			q.shapes[i] = append(q.shapes[i][:0], sl.outShape...)
			continue
		}
		if v == nil || v.Type() != ort.ElementType(sl.dtype) {
			return status.Errorf(codes.Internal, "state output %s: missing or of another type", sl.out)
		}
		b := v.Bytes()
		if len(q.state[i]) == len(b) {
			copy(q.state[i], b)
		} else {
			q.state[i] = append(make([]byte, 0, len(b)), b...)
		}
		q.shapes[i] = append(q.shapes[i][:0], v.Shape()...)
	}
	return nil
}

// pinBytes pins b's memory for ONNX Runtime (nil for no bytes).
func pinBytes(pin *runtime.Pinner, b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	pin.Pin(p)
	return p
}

// stateOutputNames are the state outputs, in slot order.
func (s *sequences) stateOutputNames() []string {
	out := make([]string, len(s.slots))
	for i, sl := range s.slots {
		out[i] = sl.out
	}
	return out
}
