package ortdevice

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/device"
)

// vmRSS is this process's resident memory in bytes, after returning what
// the Go heap no longer uses.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// writeVersion writes g's model as dir/model.onnx, creating dir, and
// returns dir.
func writeVersion(t *testing.T, dir string, g *om.Graph) string {
	t.Helper()
	mp, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := om.WriteFile(filepath.Join(dir, "model.onnx"), mp); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runX runs session s on in, FP32 of the given shape, as its input "x",
// and returns a copy of its first output's bytes.
func runX(t *testing.T, s *ort.Session, shape []int64, in []byte) []byte {
	t.Helper()
	v, err := ort.NewTensorCopy(ort.Float32, shape, in)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	outs := []*ort.Value{nil}
	if err := s.Run([]string{"x"}, []*ort.Value{v}, []string{s.Outputs()[0].Name}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Close()
	return bytes.Clone(outs[0].Bytes())
}

// streamWeightsChild marks the process TestStreamsShareWeights starts.
const streamWeightsChild = "OVMS_TEST_STREAM_WEIGHTS_CHILD"

// TestStreamsShareWeights runs TestStreamsShareWeightsChild in a process
// whose malloc gives every block of 128 KiB or more back to the system when
// it is freed (a fixed mmap threshold): with glibc's default, which raises
// the threshold to the largest block freed, the model's parse leaves
// megabytes of freed heap in the resident memory the test compares.
func TestStreamsShareWeights(t *testing.T) {
	requireORT(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStreamsShareWeightsChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), streamWeightsChild+"=1", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestStreamsShareWeightsChild")) {
		t.Fatalf("child test process: %v\n%s", err, out)
	}
	t.Logf("child test process:\n%s", out)
}

// TestStreamsShareWeightsChild: the streams of a model hold its large
// initializers once (and what ONNX Runtime prepacks from them once),
// not once per stream, and every stream answers exactly as a model with
// one stream does.
func TestStreamsShareWeightsChild(t *testing.T) {
	if os.Getenv(streamWeightsChild) == "" {
		t.Skip("run by TestStreamsShareWeights")
	}
	requireORT(t)
	const k = 2048 // a 16 MiB MatMul weight
	g := om.NewGraph("matmul")
	x := g.Input("x", om.Float32, -1, k)
	y := g.Node("MatMul", []om.Value{x, g.Constant(om.RandomFloat32Tensor("w", []int64{k, k}, 7))})
	y = g.Node("Add", []om.Value{y, g.Constant(om.RandomFloat32Tensor("b", []int64{k}, 8))}) // 8 KiB: not shared
	g.Output(y, "y", om.Float32, -1, k)
	dir := writeVersion(t, filepath.Join(t.TempDir(), "1"), g)
	g = nil
	log := logrus.NewEntry(logrus.New())
	load := func(streams string) (*model, int64) {
		t.Helper()
		before := vmRSS(t)
		m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir,
			PluginConfig: map[string]string{"NUM_STREAMS": streams}}, "", engineOpts{weights: &weightsSet{}}, log)
		if err != nil {
			t.Fatal(err)
		}
		return m, vmRSS(t) - before
	}
	warm, _ := load("1") // the engine's environment and first-load costs
	warm.close()
	one, oneGrew := load("1")
	defer one.close()
	four, fourGrew := load("4")
	defer four.close()
	if one.weights != nil {
		t.Errorf("one stream shares %d bytes of weights; want none (nothing to share with)", one.weights.bytes)
	}
	if four.weights == nil || four.weights.bytes != 4*k*k || len(four.weights.values) != 1 {
		t.Fatalf("four streams share %+v; want the 16 MiB weight alone", four.weights)
	}
	// Without sharing the three more streams add three copies of the
	// (prepacked) weight, 48 MiB; shared, the one copy of the initializer
	// that ONNX Runtime prepacks from (it frees its own once prepacked).
	const w = 4 * k * k
	t.Logf("memory: one stream +%.1f MiB, four streams +%.1f MiB (the weight %.0f MiB)", float64(oneGrew)/(1<<20), float64(fourGrew)/(1<<20), float64(w)/(1<<20))
	if fourGrew-oneGrew > 2*w {
		t.Errorf("four streams took %.1f MiB more than one; want under %.0f MiB (the weight held once more, not three times)",
			float64(fourGrew-oneGrew)/(1<<20), float64(2*w)/(1<<20))
	}

	two, _ := load("2")
	defer two.close()
	if two.weights == nil || two.weights.bytes != 4*k*k {
		t.Errorf("two streams share %+v; want the 16 MiB weight", two.weights)
	}

	in := make([]byte, 4*3*k)
	for i := range in {
		in[i] = byte(i*7 + 3)
	}
	for i := 0; i < len(in); i += 4 {
		in[i+3] = 0x3c // small, finite floats
	}
	run := func(s *ort.Session) []byte { return runX(t, s, []int64{3, k}, in) }
	want := run(one.all[0])
	if len(four.all) != 4 {
		t.Fatalf("%d sessions, want 4", len(four.all))
	}
	for i, s := range four.all {
		if got := run(s); !bytes.Equal(got, want) {
			t.Errorf("stream %d answers differently from the model with one stream", i)
		}
	}
}

// TestStreamsShareOnlyPrepackedWeights: an initializer that an operator
// other than MatMul or Gemm reads (one that graph optimizations may rewrite
// into a tensor of each session's own) is not shared, however many the
// streams.
func TestStreamsShareOnlyPrepackedWeights(t *testing.T) {
	requireORT(t)
	g := om.NewGraph("add")
	x := g.Input("x", om.Float32, 256, 256)
	g.Output(g.Node("Add", []om.Value{x, g.Constant(om.RandomFloat32Tensor("w", []int64{256, 256}, 7))}), "y", om.Float32, 256, 256)
	dir := writeVersion(t, filepath.Join(t.TempDir(), "1"), g)
	m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir,
		PluginConfig: map[string]string{"NUM_STREAMS": "4"}}, "", engineOpts{weights: &weightsSet{}}, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if m.weights != nil {
		t.Errorf("an Add's 256 KiB constant is shared (%d bytes); want it left to each session", m.weights.bytes)
	}
}

func TestPrepackedWeight(t *testing.T) {
	for _, tc := range []struct {
		uses []om.Use
		want bool
	}{
		{nil, false},
		{[]om.Use{{Op: "MatMul", Input: 1}}, true},
		{[]om.Use{{Op: "Gemm", Input: 1}, {Op: "MatMul", Input: 1}}, true},
		{[]om.Use{{Op: "MatMul", Input: 0}}, false},
		{[]om.Use{{Op: "MatMul", Input: 1}, {Op: "Conv", Input: 1}}, false},
		{[]om.Use{{Op: "MatMul", Domain: "com.microsoft", Input: 1}}, false},
		{[]om.Use{{Op: "MatMul", Input: 1}, {Op: om.GraphOutputOp}}, false},
	} {
		if got := prepackedWeight(tc.uses); got != tc.want {
			t.Errorf("prepackedWeight(%+v) = %v, want %v", tc.uses, got, tc.want)
		}
	}
}

// TestVersionsShareWeights: models with the same weights (versions with
// identical files, a reshaped copy) share one copy of them: models with
// streams make it, a model with one stream uses it when it is there and
// makes none of its own; another model's weights are another copy; the
// copy goes with the last model using it.
func TestVersionsShareWeights(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	write := func(name string, seed uint64) string {
		g := om.NewGraph("matmul")
		x := g.Input("x", om.Float32, -1, 256)
		g.Output(g.Node("MatMul", []om.Value{x, g.Constant(om.RandomFloat32Tensor("w", []int64{256, 256}, seed))}), "y", om.Float32, -1, 256)
		return writeVersion(t, filepath.Join(dir, name), g)
	}
	v1, v2, other := write("v1", 1), write("v2", 1), write("other", 2)
	set := &weightsSet{}
	eo := engineOpts{weights: set}
	log := logrus.NewEntry(logrus.New())
	load := func(path string, streams string, batch int64) *model {
		t.Helper()
		m, err := loadModel(context.Background(), &device.LoadRequest{Path: path, BatchSize: batch,
			PluginConfig: map[string]string{"NUM_STREAMS": streams}}, "", eo, log)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	held := func() int {
		set.mu.Lock()
		defer set.mu.Unlock()
		n := 0
		for _, ws := range set.m {
			n += len(ws)
		}
		return n
	}
	alone := load(v1, "1", 0)
	if alone.weights != nil || held() != 0 {
		t.Fatalf("one stream and nothing shared yet: shares %v (%d held); want nothing", alone.weights, held())
	}
	a := load(v1, "2", 0)
	b := load(v2, "2", 0)
	c := load(v2, "1", 0)
	d := load(v1, "1", 4) // reshaped: the same weights
	e := load(other, "2", 0)
	if a.weights == nil || b.weights != a.weights || c.weights != a.weights || d.weights != a.weights {
		t.Errorf("identical weights: %p %p %p %p; want one copy", a.weights, b.weights, c.weights, d.weights)
	}
	if e.weights == nil || e.weights == a.weights || held() != 2 {
		t.Errorf("other weights: %p (the first %p), %d copies held; want a second copy", e.weights, a.weights, held())
	}
	// Each answers with its own weights: as the same file loaded without
	// sharing does.
	in := make([]byte, 4*256)
	for i := 0; i < len(in); i += 4 {
		binary.LittleEndian.PutUint32(in[i:], math.Float32bits(float32(i%11)/11))
	}
	run := func(m *model) []byte {
		t.Helper()
		var out []byte
		for _, s := range m.all {
			got := runX(t, s, []int64{1, 256}, in)
			if out != nil && !bytes.Equal(out, got) {
				t.Error("the sessions of one model answer differently")
			}
			out = got
		}
		return out
	}
	plain := func(path string) []byte {
		t.Helper()
		m, err := loadModel(context.Background(), &device.LoadRequest{Path: path}, "", engineOpts{}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer m.close()
		return run(m)
	}
	want1, want2 := plain(v1), plain(other)
	if bytes.Equal(want1, want2) {
		t.Fatal("the two weights give the same answer; the check below could not tell them apart")
	}
	for i, m := range []*model{a, b, c, e} {
		want := want1
		if m == e {
			want = want2
		}
		if !bytes.Equal(run(m), want) {
			t.Errorf("model %d answers differently from its file loaded without sharing", i)
		}
	}
	for _, m := range []*model{alone, a, b, c, d} {
		m.close()
	}
	if held() != 1 {
		t.Errorf("after closing the models of the first weights: %d copies held, want 1", held())
	}
	e.close()
	if held() != 0 {
		t.Errorf("after closing everything: %d copies held, want 0", held())
	}
}

// TestIRStreamsShareWeights: an IR model's weights, which reach the engine
// as external data from the .bin, are shared between its streams too, and
// its streams answer as a model with one stream does.
func TestIRStreamsShareWeights(t *testing.T) {
	requireORT(t)
	const k = 256
	w := make([]float32, k*k)
	for i := range w {
		w[i] = float32(i%97) / 97
	}
	bias := make([]float32, k) // in the .bin before the weight, which so starts past its beginning
	for i := range bias {
		bias[i] = float32(i) / k
	}
	n := irtest.New("mm")
	x := n.Parameter("x", irmodel.F32, "?,256")
	b := n.F32([]int64{k}, bias...)
	y := n.Op("MatMul", "opset1", map[string]string{"transpose_a": "false", "transpose_b": "false"},
		[]irtest.Out{x, n.F32([]int64{k, k}, w...)}, irtest.Port{Type: irmodel.F32, Shape: "?,256"})
	y = n.Op("Add", "opset1", nil, []irtest.Out{y[0], b}, irtest.Port{Type: irmodel.F32, Shape: "?,256", Names: "y"})
	n.Result(y[0], "r")
	dir := filepath.Join(t.TempDir(), "1")
	writeIR(t, dir, n)
	log := logrus.NewEntry(logrus.New())
	load := func(streams string) *model {
		t.Helper()
		m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir, PluginConfig: map[string]string{"NUM_STREAMS": streams}},
			"", engineOpts{weights: &weightsSet{}}, log)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	one, two := load("1"), load("2")
	defer one.close()
	defer two.close()
	if two.weights == nil || two.weights.bytes != 4*k*k {
		t.Fatalf("two streams of the IR share %+v; want its 256 KiB weight", two.weights)
	}
	in := make([]byte, 4*2*k)
	for i := 0; i < len(in); i += 4 {
		binary.LittleEndian.PutUint32(in[i:], math.Float32bits(float32(i%13)/13))
	}
	run := func(s *ort.Session) []byte { return runX(t, s, []int64{2, k}, in) }
	want := run(one.all[0])
	for i, s := range two.all {
		if !bytes.Equal(run(s), want) {
			t.Errorf("stream %d answers differently from the IR with one stream", i)
		}
	}
}
