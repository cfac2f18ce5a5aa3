package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// stats counts requests: to models that are never unloaded (every one
// must succeed) and to the ones that come and go (failures expected while
// they are unloaded), and the churn operations.
type stats struct {
	ok, failed           atomic.Int64 // stable and reloaded models
	churnOK, churnFailed atomic.Int64 // cycled and extra models
	cycles, rewrites     atomic.Int64
	churnErrs            atomic.Int64 // failed repository loads/unloads
	mu                   sync.Mutex
	firstErr             string
}

// fail records a failed request to a model that must always answer.
func (s *stats) fail(err error) {
	s.failed.Add(1)
	s.mu.Lock()
	if s.firstErr == "" {
		s.firstErr = err.Error()
	}
	s.mu.Unlock()
}

// client calls one model with one protocol and checks the answer.
type client func(ctx context.Context, model string) error

// startLoad runs the four clients and the churn until ctx ends; the
// returned channel closes when they have stopped.
func startLoad(ctx context.Context, srv *server, st *stats) <-chan struct{} {
	httpc := &http.Client{Timeout: 30 * time.Second}
	clients := []client{kserveGRPC(srv), kserveREST(srv, httpc), tfsGRPC(srv), tfsREST(srv, httpc)}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := i; ctx.Err() == nil; n++ {
				switch model := []string{stableModel, reloadedModel, stableModel, cycledModel, stableModel, extraModel}[n%6]; model {
				case stableModel, reloadedModel:
					if err := c(ctx, model); err != nil && ctx.Err() == nil {
						st.fail(fmt.Errorf("%s: %w", model, err))
					} else if err == nil {
						st.ok.Add(1)
					}
				default:
					if err := c(ctx, model); err != nil {
						st.churnFailed.Add(1)
					} else {
						st.churnOK.Add(1)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); churn(ctx, srv, st, httpc) }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// churn unloads and loads the cycled model every 2 s (REST and gRPC in
// turn) and rewrites config.json every 5 s.
func churn(ctx context.Context, srv *server, st *stats, httpc *http.Client) {
	cycle, rewrite := time.NewTicker(time.Second), time.NewTicker(5*time.Second)
	defer cycle.Stop()
	defer rewrite.Stop()
	repo := kpb.NewGRPCInferenceServiceClient(srv.conn)
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-cycle.C:
			n++
			var err error
			switch n % 4 {
			case 1:
				err = restPost(ctx, httpc, srv.restURL+"/v2/repository/models/"+cycledModel+"/unload", "")
			case 2:
				_, err = repo.RepositoryModelLoad(ctx, &kpb.RepositoryModelLoadRequest{ModelName: cycledModel})
			case 3:
				_, err = repo.RepositoryModelUnload(ctx, &kpb.RepositoryModelUnloadRequest{ModelName: cycledModel})
			case 0:
				err = restPost(ctx, httpc, srv.restURL+"/v2/repository/models/"+cycledModel+"/load", "")
			}
			if err != nil && ctx.Err() == nil {
				st.churnErrs.Add(1)
			} else if n%2 == 0 {
				st.cycles.Add(1)
			}
		case <-rewrite.C:
			if err := srv.writeConfig(int(st.rewrites.Add(1))); err != nil {
				st.churnErrs.Add(1)
			}
		}
	}
}

// input is the request tensor: 1..10.
var input = func() []byte {
	b := make([]byte, 40)
	for i := range 10 {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i+1)))
	}
	return b
}()

// checkOutput checks a = b + 1 for the input.
func checkOutput(out []byte) error {
	if len(out) != 40 {
		return fmt.Errorf("output of %d bytes, want 40", len(out))
	}
	for i := range 10 {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:])); got != float32(i+2) {
			return fmt.Errorf("output %d is %v, want %d", i, got, i+2)
		}
	}
	return nil
}

func kserveGRPC(srv *server) client {
	c := kpb.NewGRPCInferenceServiceClient(srv.conn)
	return func(ctx context.Context, model string) error {
		r, err := c.ModelInfer(ctx, &kpb.ModelInferRequest{ModelName: model,
			Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{input}})
		if err != nil {
			return err
		}
		if len(r.RawOutputContents) != 1 {
			return fmt.Errorf("%d raw outputs", len(r.RawOutputContents))
		}
		return checkOutput(r.RawOutputContents[0])
	}
}

func tfsGRPC(srv *server) client {
	c := tfspb.NewPredictionServiceClient(srv.conn)
	shape := &fw.TensorShapeProto{Dim: []*fw.TensorShapeProto_Dim{{Size: 1}, {Size: 10}}}
	return func(ctx context.Context, model string) error {
		r, err := c.Predict(ctx, &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: model},
			Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape, TensorContent: input}}})
		if err != nil {
			return err
		}
		return checkOutput(r.Outputs["a"].GetTensorContent())
	}
}

// jsonValues are the input as JSON numbers, and want the expected output.
const (
	jsonValues = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"
	want       = "[2.0,3.0,4.0,5.0,6.0,7.0,8.0,9.0,10.0,11.0]"
)

func kserveREST(srv *server, httpc *http.Client) client {
	body := `{"inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32", "data": ` + jsonValues + `}]}`
	return func(ctx context.Context, model string) error {
		out, err := restCall(ctx, httpc, srv.restURL+"/v2/models/"+model+"/infer", body)
		if err != nil {
			return err
		}
		return containsValues(out)
	}
}

func tfsREST(srv *server, httpc *http.Client) client {
	body := `{"instances": [` + jsonValues + `]}`
	return func(ctx context.Context, model string) error {
		out, err := restCall(ctx, httpc, srv.restURL+"/v1/models/"+model+":predict", body)
		if err != nil {
			return err
		}
		return containsValues(out)
	}
}

// containsValues checks a JSON answer for the output values 2..11.
func containsValues(body string) error {
	if !strings.Contains(strings.ReplaceAll(body, " ", ""), want) && !strings.Contains(strings.ReplaceAll(body, " ", ""), "[2,3,4,5,6,7,8,9,10,11]") {
		return fmt.Errorf("answer without the output values: %.200s", body)
	}
	return nil
}

// restCall posts body and returns the answer, an error unless it is 200.
func restCall(ctx context.Context, httpc *http.Client, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return "", err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %d %.200s", url, resp.StatusCode, b)
	}
	return string(b), nil
}

// restPost posts body and checks for 200.
func restPost(ctx context.Context, httpc *http.Client, url, body string) error {
	_, err := restCall(ctx, httpc, url, body)
	return err
}
