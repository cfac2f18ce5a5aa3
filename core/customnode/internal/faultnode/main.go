// Command ovms-node-fault is a custom node library for fault injection in
// core/customnode's tests: it copies input x (FP32, [-1]) to output y,
// after sleep_ms; a request whose first value is -1 kills the process; the
// param lie makes it break its own metadata ("type", "shape", "missing"),
// init "fail" makes initialize fail, init_sleep_ms slows it, and trace
// names a file that gets a line "init" when initialize starts and "close"
// at deinitialize.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/ovmsgo/ovms/plugins/customnode"
)

func main() { customnode.Serve("fault", newFault) }

type fault struct {
	sleep time.Duration
	lie   string
	trace string
}

// note appends a line to the trace file, if any.
func note(trace, line string) {
	if trace == "" {
		return
	}
	if f, err := os.OpenFile(trace, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		_, _ = f.WriteString(line + "\n")
		_ = f.Close()
	}
}

// Close is deinitialize.
func (f *fault) Close() error {
	note(f.trace, "close")
	return nil
}

func newFault(p customnode.Params) (customnode.Node, error) {
	if p.String("init", "") == "fail" {
		return nil, errors.New("initialize refused by its params")
	}
	note(p.String("trace", ""), "init")
	initMs, err := p.Int("init_sleep_ms", 0)
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Duration(initMs) * time.Millisecond)
	ms, err := p.Int("sleep_ms", 0)
	if err != nil {
		return nil, err
	}
	return &fault{sleep: time.Duration(ms) * time.Millisecond, lie: p.String("lie", ""), trace: p.String("trace", "")}, nil
}

func (f *fault) Inputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{customnode.Tensor("x", customnode.FP32, -1)}
}

func (f *fault) Outputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{customnode.Tensor("y", customnode.FP32, -1)}
}

func (f *fault) Execute(_ context.Context, c *customnode.Call) error {
	x, shape, err := customnode.In[float32](c, "x")
	if err != nil {
		return err
	}
	if len(x) > 0 && x[0] == -1 {
		os.Exit(3)
	}
	time.Sleep(f.sleep)
	switch f.lie {
	case "missing":
		return nil
	case "type":
		y, err := customnode.Out[int32](c, "y", shape...)
		for i := range y {
			y[i] = int32(x[i])
		}
		return err
	case "shape":
		y, err := customnode.Out[float32](c, "y", 1, shape[0])
		copy(y, x)
		return err
	case "error":
		return customnode.Errorf("value %v refused", x[0])
	}
	y, err := customnode.Out[float32](c, "y", shape...)
	if err != nil {
		return err
	}
	copy(y, x)
	return nil
}
