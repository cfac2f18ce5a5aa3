package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

func TestDynamicBatchingEndToEnd(t *testing.T) {
	s := startServer(t, "dummy_dynamic", "--log_level", "DEBUG",
		"--dynamic_batching", `{"max_batch_size": 8, "max_queue_delay_microseconds": 20000}`)
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := seq(3, float32(10*i))
			r, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy_dynamic",
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 3}}},
				RawInputContents: [][]byte{f32bytes(in...)}})
			if err != nil {
				t.Error(err)
				return
			}
			if !equal(f32s(r.RawOutputContents[0]), seq(3, float32(10*i)+1)) || r.Outputs[0].Shape[0] != 1 {
				t.Errorf("client %d got %v shape %v", i, f32s(r.RawOutputContents[0]), r.Outputs[0].Shape)
			}
		}(i)
	}
	wg.Wait()
	// The plugin saw the requests together: an input with more than one row.
	// Its log reaches ovms's asynchronously, after the answers: wait for it.
	largest := 0
	eventually(t, "a batch of more than one request reaching the plugin", func() (bool, string) {
		for _, m := range regexp.MustCompile(`b:arena\[\d+,\+\d+\]\[(\d+) 3\]`).FindAllStringSubmatch(s.log(), -1) {
			n, _ := strconv.Atoi(m[1])
			largest = max(largest, n)
		}
		return largest >= 2, fmt.Sprintf("largest %d rows\n%s", largest, s.log())
	})
	t.Logf("largest batch: %d rows", largest)
	// A model whose first dimension is fixed cannot be batched: startup fails.
	code, _, stderr := runOVMS(t, "--model_name", "dummy", "--model_path", modelsDir+"/dummy", "--port", "0", "--rest_port", strconv.Itoa(freePort(t)),
		"--dynamic_batching", `{"max_batch_size": 4}`)
	if code != 1 || !regexp.MustCompile(`dynamic batching needs a dynamic first dimension`).MatchString(stderr) {
		t.Errorf("batching a fixed-batch model: exit %d, %s", code, stderr)
	}
	code, _, stderr = runOVMS(t, "--model_name", "dummy", "--model_path", modelsDir+"/dummy", "--rest_port", "9", "--dynamic_batching", `{"max_batch_size": 0}`)
	if code != 1 || !regexp.MustCompile(`max_batch_size must be at least 1`).MatchString(stderr) {
		t.Errorf("bad dynamic batching settings: exit %d, %s", code, stderr)
	}
}
