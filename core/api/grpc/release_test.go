package grpcapi_test

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"github.com/ovmsgo/ovms/core/api/grpc/rawcodec"
	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
	"github.com/ovmsgo/ovms/core/api/grpc/tfs"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/plugins/shm"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// serve starts both gRPC services over an in-memory listener, with or
// without the stats handler that releases outputs after the response.
func serve(t *testing.T, withStats bool) (*grpc.ClientConn, *shm.Arena) {
	t.Helper()
	arena := devicetest.NewArena(t)
	models := modelmanager.New(devicetest.Devices{Instance: devicetest.Serve(t, devicetest.AddOne(arena, nil), arena)}, logrus.NewEntry(logrus.New()))
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "1"), 0o755)
	cfg := config.DefaultModel()
	cfg.Name, cfg.BasePath = "dummy", base
	if err := models.Apply(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.ForceServerCodecV2(rawcodec.New())}
	if withStats {
		opts = append(opts, grpc.StatsHandler(rpcctx.StatsHandler{}))
	}
	s := grpc.NewServer(opts...)
	tfs.Register(s, models, 0)
	kserve.Register(s, models, "test", nil, 0)
	ln := bufconn.Listen(1 << 20)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///buf", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return ln.Dial() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, arena
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
	if n := rawcodec.Outstanding(); n != 0 {
		t.Fatalf("%d requests kept gRPC's buffers", n)
	}
	if n := arena.HostZone().Allocations(); n != 0 {
		t.Fatalf("%d input buffers left in the arena", n)
	}
}
