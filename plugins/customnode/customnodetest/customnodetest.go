// Package customnodetest is the contract-test kit for custom node library
// authors: it serves a library in the test process through the SDK's real
// plumbing (the device protocol's gRPC shim, output leases and a
// shared-memory arena) and checks what ovms relies on.
//
//	func TestContract(t *testing.T) {
//		customnodetest.Contract(t, newArgmax, customnodetest.Case{
//			Params: map[string]string{"threshold": "0.5"},
//			Inputs: []customnodetest.Tensor{customnodetest.Of[float32]("scores", []int64{1, 3}, 0.1, 0.7, 0.2)},
//		})
//	}
package customnodetest

import (
	"fmt"
	"testing"

	"github.com/ovmsgo/ovms/plugins/customnode"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/device/devicetest"
)

// Tensor is a tensor as Go values (bytes as in the arena).
type Tensor = devicetest.Tensor

// Of makes a tensor of T.
func Of[T customnode.Number](name string, shape []int64, values ...T) Tensor {
	t := Tensor{Name: name, DType: customnode.TypeOf[T](), Shape: shape}
	var z T
	t.Data = make([]byte, len(values)*sizeOf(z))
	copy(device.View[T](t.Data), values)
	return t
}

func sizeOf[T customnode.Number](T) int { return customnode.TypeOf[T]().Size() }

// Values returns the elements of t as T (a copy).
func Values[T customnode.Number](t Tensor) []T { return append([]T(nil), device.View[T](t.Data)...) }

// Get returns the tensor called name among ts (a zero Tensor when none).
func Get(ts []Tensor, name string) Tensor {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return Tensor{}
}

// Harness is a library served in process as ovms serves it.
type Harness struct {
	t    testing.TB
	dev  *devicetest.Harness
	next int
}

// Start serves the library built by factory; it is stopped with the test.
func Start(t testing.TB, factory customnode.Factory) *Harness {
	t.Helper()
	return &Harness{t: t, dev: devicetest.Start(t, customnode.Device("test", factory))}
}

// Node is one node loaded into the harness's library.
type Node struct {
	h   *Harness
	key device.ModelKey
	// Info is the node's metadata (getInputsInfo, getOutputsInfo).
	Info *device.ModelInfo
}

// Open loads a node with params, as a pipeline node of the library.
func (h *Harness) Open(params map[string]string) (*Node, error) {
	h.next++
	key := device.ModelKey{Name: fmt.Sprintf("node%d", h.next), Version: 1}
	mi, err := h.dev.Load(&device.LoadRequest{Model: key, PluginConfig: params})
	if err != nil {
		return nil, err
	}
	return &Node{h: h, key: key, Info: mi}, nil
}

// Execute runs the node on inputs as ovms does and returns the outputs
// (copied out; the lease is released). outputs names those to ask for
// (none: all).
func (n *Node) Execute(inputs []Tensor, outputs ...string) ([]Tensor, error) {
	return n.h.dev.Infer(n.key, inputs, outputs...)
}

// Close unloads the node (deinitialize).
func (n *Node) Close() error { return n.h.dev.Unload(n.key) }

// Allocations is the number of live output buffers in the arena: zero
// whenever no response is held, unless the library leaks.
func (h *Harness) Allocations() int { return h.dev.Allocations() }

// Case is what a contract test runs: a node's params and a request.
type Case struct {
	// Params are the node's params.
	Params map[string]string
	// Inputs are a request's inputs; nil: zeros of the declared inputs.
	Inputs []Tensor
	// Check, if set, checks the outputs.
	Check func(t testing.TB, outputs []Tensor)
}

// Contract checks a library against what ovms relies on, in subtests: a
// node opens with the params and declares its tensors; Execute answers
// every declared output with the declared type and a shape that fits the
// declared one, and leaks nothing; a request without an input fails
// without a leak; concurrent calls agree; a closed node no longer runs and
// another node of the same params opens.
func Contract(t *testing.T, factory customnode.Factory, c Case) {
	h := Start(t, factory)
	n, err := h.Open(c.Params)
	if err != nil {
		t.Fatalf("Open %v: %v", c.Params, err)
	}
	inputs := c.Inputs
	if inputs == nil {
		for _, in := range n.Info.Inputs {
			inputs = append(inputs, devicetest.Zeros(in))
		}
	}
	var first []Tensor
	t.Run("Execute", func(t *testing.T) {
		out, err := n.Execute(inputs)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if err := Conforms(n.Info.Outputs, out); err != nil {
			t.Error(err)
		}
		if c.Check != nil {
			c.Check(t, out)
		}
		if k := h.Allocations(); k != 0 {
			t.Errorf("%d output buffers left in the arena after the lease was released", k)
		}
		first = out
	})
	t.Run("MissingInput", func(t *testing.T) {
		if len(inputs) == 0 {
			t.Skip("the node takes no inputs")
		}
		if _, err := n.Execute(inputs[1:]); err == nil {
			t.Errorf("Execute without input %q succeeded", inputs[0].Name)
		}
		if k := h.Allocations(); k != 0 {
			t.Errorf("a failed Execute left %d buffers in the arena", k)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			go func() {
				var err error
				for i := 0; i < 10 && err == nil; i++ {
					var out []Tensor
					if out, err = n.Execute(inputs); err == nil && first != nil && fmt.Sprint(out) != fmt.Sprint(first) {
						err = fmt.Errorf("concurrent Execute answered differently")
					}
				}
				errs <- err
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("Close", func(t *testing.T) {
		if err := n.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := n.Execute(inputs); err == nil {
			t.Error("Execute on a closed node succeeded")
		}
		m, err := h.Open(c.Params)
		if err != nil {
			t.Fatalf("Open after Close: %v", err)
		}
		if _, err := m.Execute(inputs); err != nil {
			t.Errorf("Execute on a new node: %v", err)
		}
		if k := h.Allocations(); k != 0 {
			t.Errorf("%d output buffers leaked", k)
		}
	})
}

// Conforms checks outputs as ovms does: every declared output present and
// none other, each with its declared type, rank and dimensions (static
// ones and ranges), and as many bytes as its shape needs.
func Conforms(declared []device.TensorInfo, outputs []Tensor) error {
	got := map[string]Tensor{}
	for _, o := range outputs {
		got[o.Name] = o
	}
	decl := map[string]bool{}
	for _, d := range declared {
		decl[d.Name] = true
		o, ok := got[d.Name]
		if !ok {
			return fmt.Errorf("output %q missing from %d outputs", d.Name, len(outputs))
		}
		if o.DType != d.DType {
			return fmt.Errorf("output %q is %v, declared %v", d.Name, o.DType, d.DType)
		}
		if len(o.Shape) != len(d.Shape) {
			return fmt.Errorf("output %q has shape %v, declared %v", d.Name, o.Shape, d.Shape)
		}
		want := d.DType.Size()
		for i, dim := range o.Shape {
			if dim < 0 || !d.InRange(i, dim) {
				return fmt.Errorf("output %q has shape %v, declared %v", d.Name, o.Shape, d.Shape)
			}
			want *= int(dim)
		}
		if len(o.Data) != want {
			return fmt.Errorf("output %q holds %d bytes, its shape %v needs %d", d.Name, len(o.Data), o.Shape, want)
		}
	}
	for _, o := range outputs {
		if !decl[o.Name] {
			return fmt.Errorf("output %q is not declared", o.Name)
		}
	}
	return nil
}
