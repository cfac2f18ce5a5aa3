package integration

// Dimension ranges of an IR input ("1..4,10") through the real binary, as
// OVMS serves a model with a bounded dynamic dimension: requests inside the
// range are served, others refused with OVMS's message and the range
// written "[1~4]"; metadata shows the range as -1; a configured shape
// replaces the IR's.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// rangedIR is x [1..4,10] f32 -> y = x + 1.
func rangedIR() *irtest.Net {
	n := irtest.New("ranged")
	x := n.Parameter("x", irmodel.F32, "1..4,10")
	one := n.F32([]int64{1}, 1)
	y := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{x, one},
		irtest.Port{Type: irmodel.F32, Shape: "1..4,10", Names: "y"})[0]
	n.Result(y, "y/sink_port_0")
	return n
}

func TestIRDimensionRanges(t *testing.T) {
	root := t.TempDir()
	for _, m := range []string{"ranged", "reshaped"} {
		dir := filepath.Join(root, m, "1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := rangedIR().WriteFiles(dir, "model"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(root, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list":[{"config":{"name":"ranged","base_path":%q}},{"config":{"name":"reshaped","base_path":%q,"shape":"(-1,10)"}}]}`,
		filepath.Join(root, "ranged"), filepath.Join(root, "reshaped")))
	s := startArgs(t, "--config_path", cfg)
	rows := func(n int) []float32 {
		v := make([]float32, n*10)
		for i := range v {
			v[i] = float32(i)
		}
		return v
	}
	plus1 := func(v []float32) []float32 {
		out := make([]float32, len(v))
		for i := range v {
			out[i] = v[i] + 1
		}
		return out
	}
	const batchErr = "Invalid input batch size - Expected: [1~4]; Actual: 5; input name: x"
	const shapeErr = "Invalid input shape - Expected: ([1~4],10); Actual: (2,11); input name: x"

	t.Run("metadata", func(t *testing.T) {
		code, body := get(t, s.url("/v2/models/ranged"))
		want := `{"name":"ranged","versions":["1"],"platform":"OpenVINO","inputs":[{"name":"x","datatype":"FP32","shape":[-1,10]}],` +
			`"outputs":[{"name":"y","datatype":"FP32","shape":[-1,10]}]}`
		if code != 200 || body != want {
			t.Errorf("KServe REST metadata %d\n got %s\nwant %s", code, body, want)
		}
		code, body = get(t, s.url("/v1/models/ranged/metadata"))
		if c := compactJSON([]byte(body)); code != 200 || !strings.Contains(c, `"x":{"dtype":"DT_FLOAT","tensorShape":{"dim":[{"size":"-1","name":""},{"size":"10","name":""}]`) {
			t.Errorf("TFS REST metadata %d %s", code, c)
		}
	})

	t.Run("kserve grpc", func(t *testing.T) {
		kc := kpb.NewGRPCInferenceServiceClient(s.conn)
		infer := func(model string, shape ...int64) (*kpb.ModelInferResponse, error) {
			return kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: model,
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: shape}},
				RawInputContents: [][]byte{irF32(rows(int(shape[0] * shape[1] / 10))...)}})
		}
		for _, n := range []int64{1, 4} {
			r, err := infer("ranged", n, 10)
			if err != nil {
				t.Fatalf("batch %d: %v", n, err)
			}
			if !bytes.Equal(r.RawOutputContents[0], irF32(plus1(rows(int(n)))...)) {
				t.Errorf("batch %d: %x", n, r.RawOutputContents[0])
			}
		}
		for _, c := range []struct {
			shape []int64
			want  string
		}{{[]int64{5, 10}, batchErr}, {[]int64{2, 11}, shapeErr}} {
			_, err := infer("ranged", c.shape...)
			if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != c.want {
				t.Errorf("%v: %v, want %q", c.shape, err, c.want)
			}
		}
		// A configured shape replaces the IR's range, as OVMS's reshape.
		if r, err := infer("reshaped", 5, 10); err != nil || !bytes.Equal(r.RawOutputContents[0], irF32(plus1(rows(5))...)) {
			t.Errorf("reshaped batch 5: %v", err)
		}
	})

	t.Run("kserve rest", func(t *testing.T) {
		r := kserveREST(t, s, "ranged", `{"inputs":[{"name":"x","shape":[2,10],"datatype":"FP32","data":[`+strings.Repeat("0,", 19)+`1]}]}`)
		if len(r.Outputs) != 1 || !strings.HasSuffix(compactJSON(r.Outputs[0].Data), "1.0,2.0]") {
			t.Errorf("outputs %+v", r.Outputs)
		}
		code, body := post(t, s.url("/v2/models/ranged/infer"), `{"inputs":[{"name":"x","shape":[5,10],"datatype":"FP32","data":[`+strings.Repeat("0,", 49)+`1]}]}`)
		if want := `{"error":"` + batchErr + `"}`; code != 400 || compactJSON([]byte(body)) != want {
			t.Errorf("out of range: %d %s, want %s", code, body, want)
		}
	})

	t.Run("tfs rest", func(t *testing.T) {
		row := "[" + strings.Repeat("0,", 9) + "1]"
		code, out := post(t, s.url("/v1/models/ranged:predict"), `{"inputs":{"x":[`+row+`,`+row+`]}}`)
		if c := compactJSON([]byte(out)); code != 200 || !strings.Contains(c, "1.0,2.0]]") {
			t.Errorf("in range: %d %s", code, c)
		}
		code, out = post(t, s.url("/v1/models/ranged:predict"), `{"inputs":{"x":[`+strings.Repeat(row+",", 4)+row+`]}}`)
		if want := `{"error":"` + batchErr + `"}`; code != 400 || compactJSON([]byte(out)) != want {
			t.Errorf("out of range: %d %s, want %s", code, out, want)
		}
		wide := "[" + strings.Repeat("0,", 10) + "1]"
		code, out = post(t, s.url("/v1/models/ranged:predict"), `{"inputs":{"x":[`+wide+`,`+wide+`]}}`)
		if want := `{"error":"` + shapeErr + `"}`; code != 400 || compactJSON([]byte(out)) != want {
			t.Errorf("out of range: %d %s, want %s", code, out, want)
		}
	})
	s.alive()
}
