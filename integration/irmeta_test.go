package integration

// IR names and metadata as OVMS shows them, through the real binary: a
// tensor with several names is served by the smallest (OpenVINO's
// get_any_name) and requests may use any of them over the four APIs;
// <rt_info><model_info> shows in KServe REST metadata; mapping_config.json
// renames live with the other names.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// namedIR is x [1,3] f32 (names "x:0,x") -> y = x + 1 (names "y,y:0"),
// z = x * 2 (names "z:0,z,z_probs"), with a model_info.
func namedIR() *irtest.Net {
	n := irtest.New("named")
	x := n.Parameter("x", irmodel.F32, "1,3", "x:0", "x")
	one := n.F32([]int64{1}, 1)
	two := n.F32([]int64{1}, 2)
	y := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{x, one},
		irtest.Port{Type: irmodel.F32, Shape: "1,3", Names: "y,y:0"})[0]
	z := n.Op("Multiply", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{x, two},
		irtest.Port{Type: irmodel.F32, Shape: "1,3", Names: "z:0,z,z_probs"})[0]
	n.Result(y, "y/sink_port_0")
	n.Result(z, "z/sink_port_0")
	n.SetRTInfo(`<framework><name value="pytorch"/></framework><model_info><model_type value="classification"/>` +
		`<labels value="cat dog"/><resolution><height value="224"/><width value="224"/></resolution></model_info>`)
	return n
}

func irF32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestIRNamesAndMetadata(t *testing.T) {
	root := t.TempDir()
	for _, m := range []string{"named", "mapped"} {
		dir := filepath.Join(root, m, "1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := namedIR().WriteFiles(dir, "model"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "mapped", "1", "mapping_config.json"), []byte(`{"inputs":{"x":"data"},"outputs":{"z":"scores"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list":[{"config":{"name":"named","base_path":%q}},{"config":{"name":"mapped","base_path":%q}}]}`,
		filepath.Join(root, "named"), filepath.Join(root, "mapped")))
	s := startArgs(t, "--config_path", cfg)
	in := irF32(1, 2, 3)
	wantY, wantZ := irF32(2, 3, 4), irF32(2, 4, 6)

	t.Run("metadata", func(t *testing.T) {
		md := irMetadata(t, s, "named")
		if got := strings.Join([]string{md.Inputs[0].Name, md.Outputs[0].Name, md.Outputs[1].Name}, " "); got != "x y z" {
			t.Errorf("served names %s, want x y z", got)
		}
		code, body := get(t, s.url("/v2/models/named"))
		want := `{"name":"named","versions":["1"],"platform":"OpenVINO","inputs":[{"name":"x","datatype":"FP32","shape":[1,3]}],` +
			`"outputs":[{"name":"y","datatype":"FP32","shape":[1,3]},{"name":"z","datatype":"FP32","shape":[1,3]}],` +
			`"rt_info":{"model_info":{"labels":"cat dog","model_type":"classification","resolution":{"height":"224","width":"224"}}}}`
		if code != 200 || body != want {
			t.Errorf("KServe REST metadata %d\n got %s\nwant %s", code, body, want)
		}
		md = irMetadata(t, s, "mapped")
		if got := strings.Join([]string{md.Inputs[0].Name, md.Outputs[0].Name, md.Outputs[1].Name}, " "); got != "data scores y" {
			t.Errorf("mapped names %s", got)
		}
	})

	t.Run("kserve grpc", func(t *testing.T) {
		kc := kpb.NewGRPCInferenceServiceClient(s.conn)
		for _, c := range []struct{ model, in, out, served string }{
			{"named", "x:0", "z_probs", "z"}, {"named", "x", "z:0", "z"}, {"named", "x:0", "y:0", "y"},
			{"mapped", "x:0", "z_probs", "scores"}, {"mapped", "data", "y:0", "y"},
		} {
			r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: c.model,
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: c.in, Datatype: "FP32", Shape: []int64{1, 3}}},
				Outputs:          []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: c.out}},
				RawInputContents: [][]byte{in}})
			if err != nil {
				t.Fatalf("%+v: %v", c, err)
			}
			want := wantZ
			if c.served == "y" {
				want = wantY
			}
			if len(r.Outputs) != 1 || r.Outputs[0].Name != c.served || !bytes.Equal(r.RawOutputContents[0], want) {
				t.Errorf("%+v: %v %x", c, r.Outputs, r.RawOutputContents)
			}
		}
		// The model's own name of a mapped input is not taken (OVMS).
		_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "mapped",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, 3}}},
			RawInputContents: [][]byte{in}})
		if err == nil || !strings.Contains(err.Error(), "Required input: data") {
			t.Errorf("mapped model name: %v", err)
		}
	})

	t.Run("kserve rest", func(t *testing.T) {
		r := kserveREST(t, s, "named", `{"inputs":[{"name":"x:0","shape":[1,3],"datatype":"FP32","data":[1,2,3]}],"outputs":[{"name":"z_probs"},{"name":"y:0"}]}`)
		if len(r.Outputs) != 2 || r.Outputs[0].Name != "y" || r.Outputs[1].Name != "z" || compactJSON(r.Outputs[1].Data) != "[2.0,4.0,6.0]" {
			t.Errorf("outputs %+v", r.Outputs)
		}
		// binary_data asked for by an alias applies to the served output.
		body := `{"inputs":[{"name":"x:0","shape":[1,3],"datatype":"FP32","data":[1,2,3]}],"outputs":[{"name":"z_probs","parameters":{"binary_data":true}}]}`
		resp, err := http.Post(s.url("/v2/models/named/infer"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		all, _ := io.ReadAll(resp.Body)
		n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
		if resp.StatusCode != 200 || err != nil || n > len(all) {
			t.Fatalf("binary: %d %q %s", resp.StatusCode, resp.Header.Get("Inference-Header-Content-Length"), all)
		}
		if !strings.Contains(string(all[:n]), `"name": "z"`) || !bytes.Equal(all[n:], wantZ) {
			t.Errorf("binary answer %s %x", all[:n], all[n:])
		}
	})

	t.Run("tfs grpc", func(t *testing.T) {
		tc := tfspb.NewPredictionServiceClient(s.conn)
		r, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "named"},
			Inputs:       map[string]*fw.TensorProto{"x:0": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 3), TensorContent: in}},
			OutputFilter: []string{"z_probs"}})
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := r.Outputs["z"]; len(r.Outputs) != 1 || !ok || !bytes.Equal(o.TensorContent, wantZ) {
			t.Errorf("outputs %v", r.Outputs)
		}
	})

	t.Run("tfs rest", func(t *testing.T) {
		for _, body := range []string{`{"inputs":{"x:0":[[1,2,3]]}}`, `{"instances":[{"x:0":[1,2,3]}]}`} {
			code, out := post(t, s.url("/v1/models/named:predict"), body)
			got := compactJSON([]byte(out))
			if code != 200 || !strings.Contains(got, `"y":[`) || !strings.Contains(got, `"z":[`) || !strings.Contains(got, "[2.0,4.0,6.0]") {
				t.Errorf("%s: %d %s", body, code, got)
			}
		}
	})
	s.alive()
}
