package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins/device"
)

// The plugin_config keys of the fault injection (removed before the model
// reaches ONNX Runtime).
const (
	keyFailLoad   = "MOCK_FAIL_LOAD"     // "true": every load of the model fails
	keyLatency    = "MOCK_LATENCY_MS"    // added to every inference
	keyCrashAfter = "MOCK_CRASH_AFTER"   // the process exits at inference N+1
	keyHangAfter  = "MOCK_HANG_AFTER"    // the process stops answering at inference N+1
	keyLoadDelay  = "MOCK_LOAD_DELAY_MS" // the load sleeps this long first, deaf to cancellation (as a stuck cgo call)
	keyCrashOn    = "MOCK_CRASH_ON"      // the process aborts on a request whose first FP32 value is this
)

// faults are one model's injected faults.
type faults struct {
	latency    time.Duration
	crashAfter int64 // 0: never
	hangAfter  int64
	crashOn    *float32 // nil: never
	count      atomic.Int64
}

// mock wraps the ONNX Runtime device with fault injection.
type mock struct {
	*ortdevice.Device
	models sync.Map // device.ModelKey -> *faults
	hung   chan struct{}
	once   sync.Once
	env    *device.Env
}

// Info hangs once the plugin is hung (so that the host's health check fails).
func (m *mock) Info(ctx context.Context) (*device.Info, error) {
	select {
	case <-m.hung:
		select {} // never answers again
	default:
	}
	return m.Device.Info(ctx)
}

// Load applies fail_load and load_delay and strips the MOCK_ keys.
func (m *mock) Load(ctx context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
	f := &faults{}
	var delay time.Duration
	cfg := map[string]string{}
	for k, v := range req.PluginConfig {
		if !strings.HasPrefix(k, "MOCK_") {
			cfg[k] = v
			continue
		}
		switch k {
		case keyFailLoad:
			if v == "true" {
				return nil, status.Errorf(codes.FailedPrecondition, "mock device: load of %s version %d failed on purpose (%s)", req.Model.Name, req.Model.Version, keyFailLoad)
			}
		case keyCrashOn:
			x, err := strconv.ParseFloat(v, 32)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "mock device: %s must be a number, got %q", k, v)
			}
			f.crashOn = new(float32(x))
		case keyLatency, keyCrashAfter, keyHangAfter, keyLoadDelay:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, status.Errorf(codes.InvalidArgument, "mock device: %s must be a whole number >= 0, got %q", k, v)
			}
			switch k {
			case keyLatency:
				f.latency = time.Duration(n) * time.Millisecond
			case keyCrashAfter:
				f.crashAfter = n
			case keyHangAfter:
				f.hangAfter = n
			case keyLoadDelay:
				delay = time.Duration(n) * time.Millisecond
			}
		default:
			return nil, status.Errorf(codes.InvalidArgument, "mock device: unknown plugin_config key %s", k)
		}
	}
	time.Sleep(delay) // not cut short by ctx: a stuck engine call cannot be
	r := *req
	r.PluginConfig = cfg
	info, err := m.Device.Load(ctx, &r)
	if err == nil {
		m.models.Store(req.Model, f)
	}
	return info, err
}

// Infer applies latency, crash_after and hang_after.
func (m *mock) Infer(ctx context.Context, req *device.InferRequest) (*device.InferResponse, error) {
	var slept time.Time // when the injected latency began
	if v, ok := m.models.Load(req.Model); ok {
		f := v.(*faults)
		n := f.count.Add(1)
		if f.crashAfter > 0 && n > f.crashAfter {
			fmt.Fprintf(os.Stderr, "mock device: crashing at inference %d (%s=%d)\n", n, keyCrashAfter, f.crashAfter)
			os.Exit(3)
		}
		if f.hangAfter > 0 && n > f.hangAfter {
			m.once.Do(func() { close(m.hung) })
			select {} // never returns
		}
		if f.crashOn != nil && m.firstValue(req) == *f.crashOn {
			// A poison request: abort as ONNX Runtime does on a kernel's
			// uncaught exception.
			fmt.Fprintf(os.Stderr, "mock device: aborting on a request whose first value is %v (%s)\n", *f.crashOn, keyCrashOn)
			_ = syscall.Kill(os.Getpid(), syscall.SIGABRT)
			select {}
		}
		if f.latency > 0 {
			slept = time.Now()
			time.Sleep(f.latency)
		}
	}
	resp, err := m.Device.Infer(ctx, req)
	// The latency stands for a slower engine: the run the response reports
	// (ovms_inference_time_us) includes it.
	if !slept.IsZero() && resp != nil && resp.EngineStart > 0 {
		resp.EngineStart = slept.UnixNano()
	}
	return resp, err
}

// firstValue is the first FP32 value of a request's first input (NaN when
// there is none).
func (m *mock) firstValue(req *device.InferRequest) float32 {
	if len(req.Inputs) == 0 || req.Inputs[0].DType != device.Float32 || req.Inputs[0].Length < 4 {
		return float32(math.NaN())
	}
	b, done, err := m.env.Bytes(req.Inputs[0])
	if err != nil {
		return float32(math.NaN())
	}
	defer done()
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}
