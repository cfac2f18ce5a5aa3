package grpcapi_test

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"github.com/ovmsgo/ovms/core/api/grpc/rawcodec"
	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
	"github.com/ovmsgo/ovms/core/api/grpc/tfs"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/shm"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// serve starts both gRPC services over an in-memory listener, with or
// without the stats handler that releases outputs after the response.
func serve(t *testing.T, withStats bool) (*grpc.ClientConn, *shm.Arena) {
	conn, arena, _ := serveInfo(t, withStats, nil)
	return conn, arena
}

// serveInfo is serve with the model's metadata (devicetest.AddOne's) and
// the server's options as ovms sets them (its receive pool); extra client
// dial options come last. It also returns a function that opens another
// connection (default options) to the same server.
func serveInfo(t *testing.T, withStats bool, info *device.ModelInfo, dial ...grpc.DialOption) (*grpc.ClientConn, *shm.Arena, func() *grpc.ClientConn) {
	t.Helper()
	arena := devicetest.NewArena(t)
	models := modelmanager.New(devicetest.Devices{Instance: devicetest.Serve(t, devicetest.AddOne(arena, info), arena)}, logrus.NewEntry(logrus.New()))
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "1"), 0o755)
	cfg := config.DefaultModel()
	cfg.Name, cfg.BasePath = "dummy", base
	if err := models.Apply(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.ForceServerCodecV2(rawcodec.New()), experimental.BufferPool(rawcodec.NewPool())}
	if withStats {
		opts = append(opts, grpc.StatsHandler(rpcctx.StatsHandler{LastRequest: rawcodec.FreeUntaken}))
	}
	s := grpc.NewServer(opts...)
	tfs.Register(s, models, 0)
	kserve.Register(s, models, "test", nil, 0)
	ln := bufconn.Listen(1 << 20)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	connect := func(dial ...grpc.DialOption) *grpc.ClientConn {
		conn, err := grpc.NewClient("passthrough:///buf", append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return ln.Dial() })}, dial...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	return connect(dial...), arena, func() *grpc.ClientConn { return connect() }
}

func floats(n int) []byte {
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)))
	}
	return b
}

// released waits until the plugin zone is empty again.
func released(t *testing.T, arena *shm.Arena) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for arena.PluginZone().Allocations() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d output buffers still leased after the RPC ended", arena.PluginZone().Allocations())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOutputsAreReleasedAfterTheResponse(t *testing.T) {
	for _, withStats := range []bool{true, false} {
		conn, arena := serve(t, withStats)
		kr, err := kpb.NewGRPCInferenceServiceClient(conn).ModelInfer(context.Background(), &kpb.ModelInferRequest{
			ModelName:        "dummy",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
			RawInputContents: [][]byte{floats(10)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := math.Float32frombits(binary.LittleEndian.Uint32(kr.RawOutputContents[0][36:])); got != 10 {
			t.Fatalf("stats=%v: a[9] = %v", withStats, got)
		}
		released(t, arena)
		tr, err := tfspb.NewPredictionServiceClient(conn).Predict(context.Background(), &tfspb.PredictRequest{
			ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
			Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorContent: floats(10),
				TensorShape: &fw.TensorShapeProto{Dim: []*fw.TensorShapeProto_Dim{{Size: 1}, {Size: 10}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := math.Float32frombits(binary.LittleEndian.Uint32(tr.Outputs["a"].TensorContent)); got != 1 {
			t.Fatalf("stats=%v: a[0] = %v", withStats, got)
		}
		released(t, arena)
		if n := arena.HostZone().Allocations(); n != 0 {
			t.Fatalf("%d input buffers not freed", n)
		}
	}
}

// TestLargeRequestsReturnTheirBuffers sends requests big enough for the
// raw codec to keep their bytes in gRPC's buffers, failing and succeeding
// ones, and checks that every one gave its buffers back.
func TestLargeRequestsReturnTheirBuffers(t *testing.T) {
	conn, arena := serve(t, true)
	c := kpb.NewGRPCInferenceServiceClient(conn)
	big := make([]byte, 100<<10)
	for _, req := range []*kpb.ModelInferRequest{
		{ModelName: "nope", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 25600}}}, RawInputContents: [][]byte{big}},
		{ModelName: "dummy", ModelVersion: "x", RawInputContents: [][]byte{big}},
		{ModelName: "dummy", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 25600}}}, RawInputContents: [][]byte{big}},
	} {
		if _, err := c.ModelInfer(context.Background(), req); err == nil {
			t.Fatalf("request %v succeeded", req.ModelName)
		}
	}
	p := tfspb.NewPredictionServiceClient(conn)
	tp := func(dims ...int64) map[string]*fw.TensorProto {
		sp := &fw.TensorShapeProto{}
		for _, d := range dims {
			sp.Dim = append(sp.Dim, &fw.TensorShapeProto_Dim{Size: d})
		}
		return map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: sp, TensorContent: floats(25600)}}
	}
	for _, req := range []*tfspb.PredictRequest{
		{ModelSpec: &tfspb.ModelSpec{Name: "nope"}, Inputs: tp(1, 25600)},
		{ModelSpec: &tfspb.ModelSpec{Name: "dummy"}, Inputs: tp(1, 25600)},
		{ModelSpec: &tfspb.ModelSpec{Name: "dummy"}, Inputs: tp(1, 10)},
	} {
		if _, err := p.Predict(context.Background(), req); err == nil {
			t.Fatalf("request %v succeeded", req.ModelSpec.Name)
		}
	}
	if n := rawcodec.Outstanding(); n != 0 {
		t.Fatalf("%d requests kept gRPC's buffers", n)
	}
	if n := arena.HostZone().Allocations(); n != 0 {
		t.Fatalf("%d input buffers left in the arena", n)
	}
}

// TestLargeOutputsSentFromTheArena: a large output goes to the transport
// from the arena itself (rawcodec.Lend, LendPredict), so its lease outlives
// the RPC's handler until the client has taken the bytes: a client that
// does not read keeps it leased (with a copy it would be released when the
// RPC ends), and reading releases it, every byte right. KServe's ModelInfer
// and TensorFlow Serving's Predict.
func TestLargeOutputsSentFromTheArena(t *testing.T) {
	const n = 32 << 10 // floats: 128 KiB each way, twice the window
	shape := &fw.TensorShapeProto{Dim: []*fw.TensorShapeProto_Dim{{Size: 1}, {Size: n}}}
	for _, c := range []struct {
		method string
		req    proto.Message
		reply  proto.Message
		output func(proto.Message) []byte
	}{
		{"/inference.GRPCInferenceService/ModelInfer",
			&kpb.ModelInferRequest{ModelName: "dummy",
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, n}}},
				RawInputContents: [][]byte{floats(n)}},
			&kpb.ModelInferResponse{},
			func(m proto.Message) []byte {
				if r := m.(*kpb.ModelInferResponse).GetRawOutputContents(); len(r) == 1 {
					return r[0]
				}
				return nil
			}},
		{"/tensorflow.serving.PredictionService/Predict",
			&tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
				Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorContent: floats(n), TensorShape: shape}}},
			&tfspb.PredictResponse{},
			func(m proto.Message) []byte { return m.(*tfspb.PredictResponse).GetOutputs()["a"].GetTensorContent() }},
	} {
		for _, disconnect := range []bool{false, true} {
			name := path.Base(c.method)
			if disconnect {
				name += "/client gone"
			}
			t.Run(name, func(t *testing.T) { largeOutputFromTheArena(t, c.method, c.req, c.reply, c.output, n, disconnect) })
		}
	}
}

// largeOutputFromTheArena runs one case of TestLargeOutputsSentFromTheArena;
// with disconnect the client closes its connection instead of reading the
// answer, which must release the output all the same.
func largeOutputFromTheArena(t *testing.T, method string, req, reply proto.Message, output func(proto.Message) []byte, n int, disconnect bool) {
	info := &device.ModelInfo{
		Inputs:  []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{1, -1}}},
		Outputs: []device.TensorInfo{{Name: "a", DType: device.Float32, Shape: []int64{1, -1}}},
	}
	// A fixed 64 KiB window: the server cannot send the answer
	// until the client reads it.
	conn, arena, another := serveInfo(t, true, info, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{}, method)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	// The handler has answered once the output was leased and the
	// response marshalled; give the RPC time to end on the server.
	deadline := time.Now().Add(5 * time.Second)
	for arena.PluginZone().Allocations() == 0 || rawcodec.Lent() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the output was never leased and marshalled: %d leases, %d lent, %v", arena.PluginZone().Allocations(), rawcodec.Lent(), st.RecvMsg(reply))
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := arena.PluginZone().Allocations(); got != 1 {
		t.Fatalf("%d output leases while the answer is unsent, want 1 (the output sent from the arena)", got)
	}
	if disconnect {
		conn.Close()
		released(t, arena)
		return
	}
	// Another client's answer, meanwhile, takes arena space of its own: had
	// the first answer's been released while still unsent, this one would
	// be written over it (the zone hands the freed space out again) and the
	// first client would read these values.
	other, err := kpb.NewGRPCInferenceServiceClient(another()).ModelInfer(ctx, &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, int64(n)}}},
		RawInputContents: [][]byte{make([]byte, 4*n)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(other.GetRawOutputContents()[0][4*(n-1):])); got != 1 {
		t.Fatalf("the other answer: a[%d] = %v", n-1, got)
	}
	if err := st.RecvMsg(reply); err != nil {
		t.Fatal(err)
	}
	out := output(reply)
	if len(out) != 4*n {
		t.Fatalf("output of %d bytes", len(out))
	}
	for i := 0; i < n; i++ {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:])); got != float32(i)+1 {
			t.Fatalf("a[%d] = %v", i, got)
		}
	}
	released(t, arena)
	if n := arena.HostZone().Allocations(); n != 0 {
		t.Fatalf("%d input buffers not freed", n)
	}
}

// TestUnaryDecodeFailuresReturnTheirBuffers: gRPC fails a unary call after
// decoding its message when the client sends a second message, or sends one
// and goes away without half-closing; neither the handler nor an
// interceptor runs, and the buffers the codec kept for the message must
// come back all the same (rpcctx.StatsHandler.LastRequest).
func TestUnaryDecodeFailuresReturnTheirBuffers(t *testing.T) {
	conn, _ := serve(t, true)
	const n = 32 << 10 // floats: 128 KiB
	shape := &fw.TensorShapeProto{Dim: []*fw.TensorShapeProto_Dim{{Size: 1}, {Size: n}}}
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	waitOutstanding := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for rawcodec.Outstanding() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d requests hold received buffers, want %d", what, rawcodec.Outstanding(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, m := range []struct {
		method   string
		req      proto.Message
		response func() proto.Message
	}{
		{"/inference.GRPCInferenceService/ModelInfer", &kpb.ModelInferRequest{ModelName: "dummy",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, n}}},
			RawInputContents: [][]byte{floats(n)}}, func() proto.Message { return &kpb.ModelInferResponse{} }},
		{"/tensorflow.serving.PredictionService/Predict", &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
			Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorContent: floats(n), TensorShape: shape}}},
			func() proto.Message { return &tfspb.PredictResponse{} }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := conn.NewStream(ctx, desc, m.method)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SendMsg(m.req); err != nil {
			t.Fatal(err)
		}
		st.SendMsg(m.req)
		st.CloseSend()
		if err := st.RecvMsg(m.response()); status.Code(err) != codes.Internal {
			t.Fatalf("%s with two messages: %v, want gRPC's cardinality violation", m.method, err)
		}
		cancel()
		waitOutstanding(m.method+" with two messages", 0)

		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		st, err = conn.NewStream(ctx, desc, m.method)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SendMsg(m.req); err != nil {
			t.Fatal(err)
		}
		waitOutstanding(m.method+" decoded, waiting for the client's half-close", 1)
		cancel()
		waitOutstanding(m.method+" after the client went away", 0)
	}
}
