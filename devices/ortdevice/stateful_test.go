package ortdevice

import (
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// rnnInfo is the metadata of the RNN test model (scripts/testmodels).
func rnnInfo() *device.ModelInfo {
	t := func(name string) device.TensorInfo {
		return device.TensorInfo{Name: name, DType: device.Float32, Shape: []int64{1, 4}}
	}
	return &device.ModelInfo{Inputs: []device.TensorInfo{t("x"), t("h_in")}, Outputs: []device.TensorInfo{t("out"), t("h_out")}}
}

func newRNNStore(t *testing.T, cfg device.Stateful) *sequences {
	t.Helper()
	cfg.StateMapping = map[string]string{"h_in": "h_out"}
	info := rnnInfo()
	s, err := newSequences(&cfg, info, nil, false, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	if len(info.Inputs) != 1 || info.Inputs[0].Name != "x" || len(info.Outputs) != 1 || info.Outputs[0].Name != "out" {
		t.Fatalf("state tensors left in the metadata: %+v", info)
	}
	return s
}

func wantSeqErr(t *testing.T, what string, err error, want device.SequenceError) {
	t.Helper()
	var got device.SequenceError
	if !errors.As(err, &got) || got != want {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// TestSequenceStore checks OVMS's sequence manager rules: start, id in use,
// unknown id, server-assigned ids, the limit (checked before the id), and
// the end dropping the sequence.
func TestSequenceStore(t *testing.T) {
	s := newRNNStore(t, device.Stateful{MaxSequenceNumber: 2})
	_, id, done, err := s.begin(5, device.SequenceStart)
	if err != nil || id != 5 {
		t.Fatal(id, err)
	}
	done()
	_, _, _, err = s.begin(5, device.SequenceStart)
	wantSeqErr(t, "start of an id in use", err, device.SequenceExists)
	_, _, _, err = s.begin(6, 0)
	wantSeqErr(t, "unknown id", err, device.SequenceMissing)
	_, id, done, err = s.begin(0, device.SequenceStart)
	if err != nil || id == 0 || id == 5 {
		t.Fatal(id, err)
	}
	done()
	_, _, _, err = s.begin(5, device.SequenceStart)
	wantSeqErr(t, "start at the limit, id in use", err, device.SequenceLimit)
	_, _, _, err = s.begin(0, device.SequenceStart)
	wantSeqErr(t, "start at the limit", err, device.SequenceLimit)
	_, _, done, err = s.begin(5, device.SequenceEnd)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if n := s.count(); n != 1 {
		t.Fatalf("%d sequences after an end, want 1", n)
	}
	_, _, _, err = s.begin(5, 0)
	wantSeqErr(t, "after its end", err, device.SequenceMissing)
	// Triton's one-request sequence: start and end at once.
	_, id, done, err = s.begin(0, device.SequenceStart|device.SequenceEnd)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if _, _, _, err = s.begin(id, 0); err == nil {
		t.Fatal("a start+end sequence outlived its request")
	}
}

// TestSequenceTerminated: while a sequence's end runs, a start of its id
// gets SEQUENCE_TERMINATED, as does a request within it.
func TestSequenceTerminated(t *testing.T) {
	s := newRNNStore(t, device.Stateful{MaxSequenceNumber: 10})
	_, _, done, err := s.begin(5, device.SequenceStart)
	if err != nil {
		t.Fatal(err)
	}
	done()
	_, _, endDone, err := s.begin(5, device.SequenceEnd)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = s.begin(5, device.SequenceStart)
	wantSeqErr(t, "start while the end runs", err, device.SequenceTerminated)
	_, _, _, err = s.begin(5, 0)
	wantSeqErr(t, "request while the end runs", err, device.SequenceTerminated)
	endDone()
	if _, _, done, err := s.begin(5, device.SequenceStart); err != nil {
		t.Fatalf("start after the end: %v", err)
	} else {
		done()
	}
}

// TestSequenceRequestsRunInArrivalOrder: requests queued on a busy
// sequence run one at a time, in the order they arrived, while another
// sequence is not held up.
func TestSequenceRequestsRunInArrivalOrder(t *testing.T) {
	s := newRNNStore(t, device.Stateful{MaxSequenceNumber: 10})
	for _, id := range []uint64{1, 2} {
		_, _, done, err := s.begin(id, device.SequenceStart)
		if err != nil {
			t.Fatal(err)
		}
		done()
	}
	_, _, first, err := s.begin(1, 0) // holds sequence 1's turn
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	running := 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, done, err := s.begin(1, 0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			running++
			if running > 1 {
				t.Error("two requests of one sequence ran at once")
			}
			order = append(order, i)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			done()
		}()
		for { // the next request arrives after this one is queued
			s.mu.Lock()
			queued := s.seqs[1].inflight
			s.mu.Unlock()
			if queued == i+2 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	// Sequence 2 is not held up by sequence 1.
	if _, _, done, err := s.begin(2, 0); err != nil {
		t.Fatal(err)
	} else {
		done()
	}
	first()
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("order %v", order)
		}
	}
}

// TestSequenceCleaner: a sequence untouched for a whole interval goes, one
// that keeps getting requests stays, one with a request running stays. The
// interval is 20 times the requests' pace, so that a test process the
// machine stalls for a while (make test runs packages side by side) does
// not look idle; the requests go on for three intervals and more.
func TestSequenceCleaner(t *testing.T) {
	s := newRNNStore(t, device.Stateful{MaxSequenceNumber: 10, IdleCleanup: 100 * time.Millisecond})
	for _, id := range []uint64{1, 2, 3} {
		_, _, done, err := s.begin(id, device.SequenceStart)
		if err != nil {
			t.Fatal(err)
		}
		done()
	}
	_, _, busy, err := s.begin(3, 0)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 350*time.Millisecond; {
		_, _, done, err := s.begin(2, 0)
		if err != nil {
			t.Fatalf("active sequence dropped: %v", err)
		}
		done()
		time.Sleep(5 * time.Millisecond)
	}
	_, _, _, err = s.begin(1, 0)
	wantSeqErr(t, "idle sequence", err, device.SequenceMissing)
	busy()
	if _, _, done, err := s.begin(3, 0); err != nil {
		t.Fatalf("sequence with a running request dropped: %v", err)
	} else {
		done()
	}
}

// TestSequenceTakeOver: a new version with the same state takes over the
// store (shared until both are closed); one with another state does not.
func TestSequenceTakeOver(t *testing.T) {
	prev := newRNNStore(t, device.Stateful{MaxSequenceNumber: 10})
	_, _, done, err := prev.begin(7, device.SequenceStart)
	if err != nil {
		t.Fatal(err)
	}
	done()
	cfg := device.Stateful{MaxSequenceNumber: 20, StateMapping: map[string]string{"h_in": "h_out"}}
	next, err := newSequences(&cfg, rnnInfo(), nil, false, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if got := next.takeOver(prev); got != prev {
		t.Fatal("same state not taken over")
	}
	prev.close() // the previous version unloads: the store lives on (the test's Cleanup closes next's use)
	if _, _, done, err := prev.begin(7, 0); err != nil {
		t.Fatalf("sequence lost with the previous version: %v", err)
	} else {
		done()
	}
	other := rnnInfo()
	other.Inputs[1].Shape = []int64{1, 8}
	other.Outputs[1].Shape = []int64{1, 8}
	cfg2 := cfg
	moved, err := newSequences(&cfg2, other, nil, false, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer moved.close()
	if moved.takeOver(prev) != moved || moved.count() != 0 {
		t.Fatal("a model with another state shape took the sequences over")
	}
}

// TestStateSymbolicDims: a dynamic state dimension takes its size from the
// data input dimension with the same dim_param.
func TestStateSymbolicDims(t *testing.T) {
	g := onnxmodel.NewGraph("sym")
	x := g.Input("input", onnxmodel.Float32, 1, -1)
	st := g.Input("state", onnxmodel.Float32, 2, -1)
	g.Output(g.NamedNode("Identity", "y", []onnxmodel.Value{x}), "y", onnxmodel.Float32, 1, -1)
	g.Output(g.NamedNode("Identity", "stateN", []onnxmodel.Value{st}), "stateN", onnxmodel.Float32, 2, -1)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	for _, vi := range m.GetGraph().GetInput() {
		d := vi.GetType().GetTensorType().GetShape().GetDim()[1]
		d.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "frames"}
	}
	model, err := onnxmodel.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	info := &device.ModelInfo{
		Inputs:  []device.TensorInfo{{Name: "input", DType: device.Float32, Shape: []int64{1, -1}}, {Name: "state", DType: device.Float32, Shape: []int64{2, -1}}},
		Outputs: []device.TensorInfo{{Name: "y", DType: device.Float32, Shape: []int64{1, -1}}, {Name: "stateN", DType: device.Float32, Shape: []int64{2, -1}}},
	}
	cfg := device.Stateful{MaxSequenceNumber: 1, StateMapping: map[string]string{"state": "stateN"}}
	s, err := newSequences(&cfg, info, model, false, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got := s.slots[0].from; got[0] != [2]int{-1, -1} || got[1] != [2]int{0, 1} {
		t.Fatalf("dimension sources %v, want the second from input 0's dimension 1", got)
	}
}

// TestStateMappingErrors: names the model does not have, or of different
// types, fail the load.
func TestStateMappingErrors(t *testing.T) {
	for _, mapping := range []map[string]string{{"nope": "h_out"}, {"h_in": "nope"}} {
		cfg := device.Stateful{MaxSequenceNumber: 1, StateMapping: mapping}
		if _, err := newSequences(&cfg, rnnInfo(), nil, false, quietLog()); err == nil {
			t.Errorf("%v accepted", mapping)
		}
	}
	info := rnnInfo()
	info.Outputs[1].DType = device.Int64
	cfg := device.Stateful{MaxSequenceNumber: 1, StateMapping: map[string]string{"h_in": "h_out"}}
	if _, err := newSequences(&cfg, info, nil, false, quietLog()); err == nil {
		t.Error("state input and output of different types accepted")
	}
}

// TestKeptStateTensors: a static-shape state lives in two engine tensors
// made at the sequence's first request, which alternate as input and
// output and are freed when the sequence goes: at its end, by the
// cleaner's rules, at close, and for a sequence dropped while a request
// holds it, when that request finishes.
func TestKeptStateTensors(t *testing.T) {
	requireORT(t)
	s := newRNNStore(t, device.Stateful{MaxSequenceNumber: 10})
	info := rnnInfo()
	step := func(id uint64, control uint32) *sequence {
		t.Helper()
		q, _, done, err := s.begin(id, control)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		var pin runtime.Pinner
		defer pin.Unpin()
		req := &device.InferRequest{Inputs: []device.TensorRef{{Name: "x", DType: device.Float32, Shape: []int64{1, 4}}}}
		_, ins, owned, err := s.stateInputs(q, info, req, &pin, nil, nil, nil)
		if err != nil || len(ins) != 1 || len(owned) != 0 {
			t.Fatalf("state inputs: %d values, %d to close, %v; want the kept tensor only", len(ins), len(owned), err)
		}
		outs, pre, owned, err := s.stateOutputs(q, &pin, nil, nil, nil)
		if err != nil || len(outs) != 1 || !pre[0] || len(owned) != 0 || outs[0] == ins[0] {
			t.Fatalf("state outputs: %v, %v, %d to close, %v; want the other kept tensor", outs, pre, len(owned), err)
		}
		copy(outs[0].Bytes(), []byte{1, 2, 3, 4}) // what the engine would write
		if err := s.keep(q, outs, pre); err != nil {
			t.Fatal(err)
		}
		if got := q.kept[0][q.cur[0]]; got != outs[0] || got.Bytes()[0] != 1 {
			t.Fatal("the output tensor did not become the state")
		}
		return q
	}
	q := step(1, device.SequenceStart)
	step(1, 0)
	if q.kept[0][0] == nil {
		t.Fatal("no kept tensors")
	}
	step(1, device.SequenceEnd)
	if q.kept[0][0] != nil || q.kept[0][1] != nil {
		t.Fatal("the tensors of an ended sequence were not freed")
	}
	// Dropped (here by close) while a request holds it: freed when it ends.
	q = step(2, device.SequenceStart)
	_, _, done, err := s.begin(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.drop(2, q)
	s.mu.Unlock()
	if q.kept[0][0] == nil {
		t.Fatal("freed under a running request")
	}
	done()
	if q.kept[0][0] != nil {
		t.Fatal("not freed by the last request")
	}
	q = step(3, device.SequenceStart)
	s.close() // (newRNNStore's cleanup closes it again: no cleaner, nothing left)
	if q.kept[0][0] != nil {
		t.Fatal("close left the tensors")
	}
}
