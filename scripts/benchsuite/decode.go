package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/ovmsgo/ovms/core/api/rest"
	"github.com/ovmsgo/ovms/plugins/device"
)

// imageElems is the size of a 1x3x224x224 image.
const imageElems = 3 * 224 * 224

// inferBody is a KServe REST infer body with a 1x3x224x224 FP32 image of
// random values in [0,1), written as a client would (shortest round-trip
// form).
func inferBody() []byte {
	rng := rand.New(rand.NewPCG(3, 224))
	b := []byte(`{"inputs":[{"name":"input","shape":[1,3,224,224],"datatype":"FP32","data":[`)
	for i := range imageElems {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(rng.Float32()), 'g', -1, 32)
	}
	return append(b, "]}]}"...)
}

// stdInferRequest is the body as encoding/json decodes it.
type stdInferRequest struct {
	Inputs []struct {
		Name     string    `json:"name"`
		Shape    []int64   `json:"shape"`
		Datatype string    `json:"datatype"`
		Data     []float32 `json:"data"`
	} `json:"inputs"`
}

// decodeOVMS is the server's path: rest.ParseInfer, then the input's
// values written as FP32 into dst (what validation does into the arena).
func decodeOVMS(body, dst []byte) error {
	req, err := rest.ParseInfer(body, -1, rest.ParseLimits{})
	if err != nil {
		return err
	}
	ins, _, err := req.Inputs(nil)
	if err != nil {
		return err
	}
	if len(ins) != 1 || ins[0].Values == nil || ins[0].Values.Len() != imageElems {
		return fmt.Errorf("decoded %d inputs", len(ins))
	}
	return ins[0].Values.Put(dst, device.Float32)
}

// decodeStd is the baseline: encoding/json into []float32.
func decodeStd(body []byte) error {
	var req stdInferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	if len(req.Inputs) != 1 || len(req.Inputs[0].Data) != imageElems {
		return fmt.Errorf("decoded %d inputs", len(req.Inputs))
	}
	return nil
}

// timeOp returns the time per call of f, running it for at least d.
func timeOp(d time.Duration, f func() error) (time.Duration, error) {
	n := 0
	start := time.Now()
	for time.Since(start) < d || n == 0 {
		if err := f(); err != nil {
			return 0, err
		}
		n++
	}
	return time.Since(start) / time.Duration(n), nil
}

// decodeResult is the JSON decode micro-benchmark's outcome.
type decodeResult struct {
	BodyBytes int           `json:"body_bytes"`
	OVMS      time.Duration `json:"ovms_ns"`
	Std       time.Duration `json:"encoding_json_ns"`
}

// benchDecode times both decoders on the same body, alternating rounds
// and keeping each one's median round, so drift on a shared machine hits
// both alike.
func benchDecode(round time.Duration, rounds int) (decodeResult, error) {
	body := inferBody()
	dst := make([]byte, 4*imageElems)
	var ours, std []time.Duration
	for range rounds {
		t, err := timeOp(round, func() error { return decodeOVMS(body, dst) })
		if err != nil {
			return decodeResult{}, fmt.Errorf("rest.ParseInfer: %w", err)
		}
		ours = append(ours, t)
		if t, err = timeOp(round, func() error { return decodeStd(body) }); err != nil {
			return decodeResult{}, fmt.Errorf("encoding/json: %w", err)
		}
		std = append(std, t)
	}
	slices.Sort(ours)
	slices.Sort(std)
	return decodeResult{BodyBytes: len(body), OVMS: ours[len(ours)/2], Std: std[len(std)/2]}, nil
}
