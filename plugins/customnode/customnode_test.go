package customnode_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/customnode"
	"github.com/ovmsgo/ovms/plugins/customnode/customnodetest"
)

func TestParams(t *testing.T) {
	p := customnode.Params{"n": " 7", "f": "0.25", "bad": "x", "s": "v"}
	if n, err := p.Int("n", 1); err != nil || n != 7 {
		t.Errorf("Int = %d, %v", n, err)
	}
	if n, err := p.Int("missing", 3); err != nil || n != 3 {
		t.Errorf("Int default = %d, %v", n, err)
	}
	if _, err := p.Int("bad", 0); err == nil || !strings.Contains(err.Error(), "param bad") {
		t.Errorf("Int of a bad value: %v", err)
	}
	if f, err := p.Float("f", 0); err != nil || f != 0.25 {
		t.Errorf("Float = %v, %v", f, err)
	}
	if _, err := p.Float("bad", 0); err == nil {
		t.Error("Float of a bad value: no error")
	}
	if p.String("s", "d") != "v" || p.String("none", "d") != "d" {
		t.Error("String")
	}
}

func TestTypeOf(t *testing.T) {
	type score float32
	for got, want := range map[customnode.DataType]customnode.DataType{
		customnode.TypeOf[float32](): customnode.FP32, customnode.TypeOf[int64](): customnode.I64,
		customnode.TypeOf[uint8](): customnode.U8, customnode.TypeOf[int32](): customnode.I32,
		customnode.TypeOf[float64](): customnode.FP64, customnode.TypeOf[int16](): customnode.I16,
	} {
		if got != want {
			t.Errorf("TypeOf = %v, want %v", got, want)
		}
	}
	if customnode.TypeOf[score]() != customnode.FP32 {
		t.Error("a named float32 type")
	}
	// Named types of every kind map by their underlying type, not by size.
	type (
		label  int32
		offset int64
		delta  int8
		count  int16
		mass   float64
		pixel  uint8
		half   uint16
	)
	for name, c := range map[string]struct{ got, want customnode.DataType }{
		"int32": {customnode.TypeOf[label](), customnode.I32}, "int64": {customnode.TypeOf[offset](), customnode.I64},
		"int8": {customnode.TypeOf[delta](), customnode.I8}, "int16": {customnode.TypeOf[count](), customnode.I16},
		"float64": {customnode.TypeOf[mass](), customnode.FP64}, "uint8": {customnode.TypeOf[pixel](), customnode.U8},
		"uint16": {customnode.TypeOf[half](), customnode.U16},
	} {
		if c.got != c.want {
			t.Errorf("TypeOf of a named %s type = %v, want %v", name, c.got, c.want)
		}
	}
}

// testNode copies input x to output y, then fails or panics as its params
// say (after allocating y, to prove the SDK frees it).
type testNode struct {
	mode   string
	closed *int
}

func (n *testNode) Inputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{customnode.Tensor("x", customnode.FP32, -1)}
}

func (n *testNode) Outputs() []customnode.TensorInfo {
	if n.mode == "bad-metadata" {
		return []customnode.TensorInfo{customnode.Tensor("y", customnode.FP32, -2)}
	}
	return []customnode.TensorInfo{customnode.Tensor("y", customnode.FP32, -1)}
}

func (n *testNode) Close() error { *n.closed++; return nil }

func (n *testNode) Execute(_ context.Context, c *customnode.Call) error {
	x, shape, err := customnode.In[float32](c, "x")
	if err != nil {
		return err
	}
	y, err := customnode.Out[float32](c, "y", shape...)
	if err != nil {
		return err
	}
	copy(y, x)
	switch c.Params().String("mode", "") {
	case "fail":
		return errors.New("boom")
	case "panic":
		panic("kaboom")
	case "wrong-type":
		_, _, err := customnode.In[int32](c, "x")
		return err
	}
	return nil
}

func TestSDK(t *testing.T) {
	closed := 0
	h := customnodetest.Start(t, func(p customnode.Params) (customnode.Node, error) {
		if p["mode"] == "init-fail" {
			return nil, errors.New("no such thing")
		}
		return &testNode{mode: p["mode"], closed: &closed}, nil
	})
	in := []customnodetest.Tensor{customnodetest.Of[float32]("x", []int64{3}, 1, 2, 3)}
	ok, err := h.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ok.Execute(in)
	if err != nil || len(out) != 1 || customnodetest.Values[float32](out[0])[2] != 3 {
		t.Fatalf("Execute = %v, %v", out, err)
	}
	for _, mode := range []string{"fail", "panic", "wrong-type"} {
		n, err := h.Open(map[string]string{"mode": mode})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Execute(in); err == nil {
			t.Errorf("%s: Execute succeeded", mode)
		} else if mode == "panic" && (status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "kaboom")) {
			t.Errorf("panic: %v", err)
		}
		if k := h.Allocations(); k != 0 {
			t.Errorf("%s: %d buffers left in the arena", mode, k)
		}
	}
	if _, err := h.Open(map[string]string{"mode": "init-fail"}); err == nil || !strings.Contains(err.Error(), "no such thing") {
		t.Errorf("a failing initialize: %v", err)
	}
	if _, err := h.Open(map[string]string{"mode": "bad-metadata"}); err == nil || !strings.Contains(err.Error(), "dimension -2") {
		t.Errorf("bad metadata: %v", err)
	}
	before := closed
	if err := ok.Close(); err != nil || closed != before+1 {
		t.Errorf("Close: %v, deinitialized %d times", err, closed-before)
	}
}

// blockingNode's Execute waits for release; it records whether it was
// closed while an Execute ran.
type blockingNode struct {
	started, release chan struct{}
	mu               sync.Mutex
	running, closed  int
	closedInRun      bool
}

func (n *blockingNode) Inputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{customnode.Tensor("x", customnode.FP32, -1)}
}

func (n *blockingNode) Outputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{customnode.Tensor("y", customnode.FP32, -1)}
}

func (n *blockingNode) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed++
	n.closedInRun = n.closedInRun || n.running > 0
	return nil
}

func (n *blockingNode) Execute(_ context.Context, c *customnode.Call) error {
	n.mu.Lock()
	n.running++
	n.mu.Unlock()
	defer func() { n.mu.Lock(); n.running--; n.mu.Unlock() }()
	n.started <- struct{}{}
	<-n.release
	x, shape, err := customnode.In[float32](c, "x")
	if err != nil {
		return err
	}
	y, err := customnode.Out[float32](c, "y", shape...)
	copy(y, x)
	return err
}

// A node unloaded (or replaced) while a request runs on it is closed
// once that request is done, never under it.
func TestUnloadWaitsForExecute(t *testing.T) {
	n := &blockingNode{started: make(chan struct{}), release: make(chan struct{})}
	h := customnodetest.Start(t, func(customnode.Params) (customnode.Node, error) { return n, nil })
	node, err := h.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := node.Execute([]customnodetest.Tensor{customnodetest.Of[float32]("x", []int64{1}, 1)})
		done <- err
	}()
	<-n.started
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	close(n.release)
	if err := <-done; err != nil {
		t.Fatalf("Execute: %v", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closedInRun || n.closed != 1 {
		t.Errorf("closed %d times, during an Execute: %v", n.closed, n.closedInRun)
	}
}

// Conforms refuses what ovms refuses of a node's answer: an output it did
// not declare, and one whose bytes do not match its shape.
func TestConforms(t *testing.T) {
	declared := []customnode.TensorInfo{customnode.Tensor("y", customnode.FP32, -1)}
	y := customnodetest.Of[float32]("y", []int64{2}, 1, 2)
	if err := customnodetest.Conforms(declared, []customnodetest.Tensor{y}); err != nil {
		t.Errorf("a conforming answer: %v", err)
	}
	extra := customnodetest.Of[float32]("z", []int64{1}, 1)
	if err := customnodetest.Conforms(declared, []customnodetest.Tensor{y, extra}); err == nil {
		t.Error("an undeclared output conforms")
	}
	short := y
	short.Data = short.Data[:4]
	if err := customnodetest.Conforms(declared, []customnodetest.Tensor{short}); err == nil {
		t.Error("an output of 4 bytes with shape [2] conforms")
	}
}
