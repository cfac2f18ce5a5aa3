package onnxruntime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// TestPreallocatedOutputInMmap runs test_add with inputs and the output in
// an anonymous mapping (as the plugin's shared-memory arena is): ORT reads
// and writes the mapping directly.
func TestPreallocatedOutputInMmap(t *testing.T) {
	s := nodeTestSession(t, "test_add", SessionOptions{IntraOpThreads: 1})
	x, y := nodeTestTensor(t, "test_add", "input_0.pb"), nodeTestTensor(t, "test_add", "input_1.pb")
	want := nodeTestTensor(t, "test_add", "output_0.pb")
	arena, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(arena)
	const xOff, yOff, outOff = 0, 1024, 2048
	copy(arena[xOff:], x.raw)
	copy(arena[yOff:], y.raw)
	wrap := func(off int, shape []int64) *Value {
		v, err := NewTensor(Float32, shape, unsafe.Pointer(&arena[off]), 1024)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		return v
	}
	xv, yv, out := wrap(xOff, x.shape), wrap(yOff, y.shape), wrap(outOff, want.shape)
	if err := s.Run([]string{"x", "y"}, []*Value{xv, yv}, []string{"sum"}, []*Value{out}); err != nil {
		t.Fatal(err)
	}
	if err := compareValue(want, out, 0, 0); err != nil {
		t.Error(err)
	}
	if b := out.Bytes(); &b[0] != &arena[outOff] {
		t.Error("output Bytes() is not a view of the mapping")
	}
	if !equalBytes(arena[outOff:outOff+len(want.raw)], want.raw) {
		t.Error("the mapping does not hold the output")
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// TestConcurrentRun runs one session from 8 goroutines at once (run the
// package tests with -race).
func TestConcurrentRun(t *testing.T) {
	s := nodeTestSession(t, "test_add", SessionOptions{IntraOpThreads: 1})
	x, y := nodeTestTensor(t, "test_add", "input_0.pb"), nodeTestTensor(t, "test_add", "input_1.pb")
	want := nodeTestTensor(t, "test_add", "output_0.pb")
	shared := mustValue(t, x) // one input Value read by every goroutine
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			yv, err := y.value()
			if err != nil {
				errs <- err
				return
			}
			defer yv.Close()
			pre, err := NewTensorCopy(Float32, want.shape, make([]byte, len(want.raw)))
			if err != nil {
				errs <- err
				return
			}
			defer pre.Close()
			for i := range 100 {
				outs := []*Value{nil}
				if i%2 == 1 {
					outs[0] = pre
				}
				if err := s.Run([]string{"x", "y"}, []*Value{shared, yv}, []string{"sum"}, outs); err != nil {
					errs <- err
					return
				}
				err := compareValue(want, outs[0], 0, 0)
				if outs[0] != pre {
					outs[0].Close()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRunAllocations checks that Run with preallocated outputs makes no
// heap allocation.
func TestRunAllocations(t *testing.T) {
	s := nodeTestSession(t, "test_add", SessionOptions{IntraOpThreads: 1})
	x, y := mustValue(t, nodeTestTensor(t, "test_add", "input_0.pb")), mustValue(t, nodeTestTensor(t, "test_add", "input_1.pb"))
	out := mustValue(t, nodeTestTensor(t, "test_add", "output_0.pb"))
	inNames, outNames := []string{"x", "y"}, []string{"sum"}
	ins, outs := []*Value{x, y}, []*Value{out}
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.Run(inNames, ins, outNames, outs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Run with preallocated outputs: %v allocations per call, want 0", allocs)
	}
}

func TestRunErrors(t *testing.T) {
	initLib(t)
	s := newSession(t, identityModel(t, Float32, 2), SessionOptions{})
	in, err := NewTensorCopy(Float32, []int64{2}, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	closed, _ := NewTensorCopy(Float32, []int64{2}, make([]byte, 8))
	closed.Close()
	closed.Close() // idempotent
	wrongShape, _ := NewTensorCopy(Float32, []int64{3}, make([]byte, 12))
	defer wrongShape.Close()
	for _, tt := range []struct {
		name     string
		inNames  []string
		ins      []*Value
		outNames []string
		outs     []*Value
		want     string
	}{
		{"unknown input", []string{"z"}, []*Value{in}, []string{"y"}, []*Value{nil}, `unknown input "z" (model inputs: x)`},
		{"unknown output", []string{"x"}, []*Value{in}, []string{"w"}, []*Value{nil}, `unknown output "w"`},
		{"closed input", []string{"x"}, []*Value{closed}, []string{"y"}, []*Value{nil}, "closed"},
		{"nil input", []string{"x"}, []*Value{nil}, []string{"y"}, []*Value{nil}, "nil"},
		{"count mismatch", []string{"x", "x"}, []*Value{in}, []string{"y"}, []*Value{nil}, "2 input names for 1 inputs"},
		{"missing input", nil, nil, []string{"y"}, []*Value{nil}, `missing input "x"`},
		{"input twice", []string{"x", "x"}, []*Value{in, in}, []string{"y"}, []*Value{nil}, `input "x" given twice`},
		{"wrong input shape", []string{"x"}, []*Value{wrongShape}, []string{"y"}, []*Value{nil}, "invalid argument"},
	} {
		err := s.Run(tt.inNames, tt.ins, tt.outNames, tt.outs)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Run error %v, want one containing %q", tt.name, err, tt.want)
		}
		var ortErr *Error
		if strings.Contains(tt.want, "invalid argument") && (!errors.As(err, &ortErr) || ortErr.Code != CodeInvalidArgument) {
			t.Errorf("%s: error %v is not an *Error with CodeInvalidArgument", tt.name, err)
		}
		if tt.outs[0] != nil {
			t.Errorf("%s: output set despite the error", tt.name)
		}
	}
	if _, err := NewTensor(Float32, []int64{4}, unsafe.Pointer(&make([]byte, 16)[0]), 8); err == nil {
		t.Error("NewTensor with too few bytes: no error")
	}
	if _, err := NewTensorCopy(String, []int64{1}, []byte{0}); err == nil {
		t.Error("NewTensorCopy of a string tensor: no error")
	}
	if _, err := NewTensorCopy(Float32, []int64{-1}, nil); err == nil {
		t.Error("NewTensorCopy with a negative dimension: no error")
	}
	s.Close()
	s.Close() // idempotent
	if err := s.Run([]string{"x"}, []*Value{in}, []string{"y"}, []*Value{nil}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run on a closed session: %v", err)
	}
}

// chainModel is y = x·x·…·x (n MatMuls of size×size): slow enough to cancel.
func chainModel(t *testing.T, n, size int) []byte {
	g := &onnxpb.GraphProto{
		Name:   proto.String("chain"),
		Input:  []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: tensorType(Float32, size, size)}},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y"), Type: tensorType(Float32, size, size)}},
	}
	prev := "x"
	for i := range n {
		out := "y"
		if i < n-1 {
			out = fmt.Sprintf("t%d", i)
		}
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("MatMul"), Input: []string{prev, "x"}, Output: []string{out}})
		prev = out
	}
	b, err := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunWithOptionsCancel(t *testing.T) {
	initLib(t)
	const size = 256
	s := newSession(t, chainModel(t, 500, size), SessionOptions{IntraOpThreads: 1, GraphOptimization: OptimizeDisable})
	x, err := NewTensorCopy(Float32, []int64{size, size}, make([]byte, size*size*4))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	run := func(ctx context.Context) error {
		outs := []*Value{nil}
		err := s.RunWithOptions(ctx, []string{"x"}, []*Value{x}, []string{"y"}, outs)
		if outs[0] != nil {
			outs[0].Close()
		}
		return err
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("RunWithOptions with a canceled context: %v, want context.Canceled", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RunWithOptions past its deadline: %v, want context.DeadlineExceeded", err)
	}
	t.Logf("terminated after %v: %v", time.Since(start), err)

	// A context that is not done changes nothing.
	id := newSession(t, identityModel(t, Float32, 2), SessionOptions{})
	live, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := mustValue(t, &tensorData{typ: Float32, shape: []int64{2}, raw: make([]byte, 8)})
	outs := []*Value{nil}
	if err := id.RunWithOptions(live, []string{"x"}, []*Value{in}, []string{"y"}, outs); err != nil {
		t.Fatalf("RunWithOptions with a live context: %v", err)
	}
	outs[0].Close()
}
