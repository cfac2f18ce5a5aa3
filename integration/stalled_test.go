package integration

import (
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// pluginArenaBytes is the ovms_arena_bytes_in_use of the plugin zones (the
// outputs the core holds), summed over the plugins.
func pluginArenaBytes(t *testing.T, s *server) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range scrapeMetrics(t, s)["ovms_arena_bytes_in_use"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "zone" && l.GetValue() == "plugin" {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// successes sums ovms_requests_success over its series.
func successes(t *testing.T, s *server) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range scrapeMetrics(t, s)["ovms_requests_success"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum
}

// TestStalledReadersCannotFillTheArena: large gRPC answers are sent from
// the plugin's arena (docs/architecture.md, "Copies of tensor bytes per
// request"), so a client that stops reading holds its answer's bytes there
// until its connection ends. 40 such clients of 256 KiB answers would hold
// 10 MiB, more than the 8 MiB output half of a 16 MiB arena; at most a
// quarter of the arena is lent (ovms_arena_bytes_in_use of the plugin zone
// says 4 MiB) and the other answers are copied, so other clients are served
// meanwhile, every value right; when the stalled clients leave, the arena
// is empty again.
func TestStalledReadersCannotFillTheArena(t *testing.T) {
	s := startArgs(t, "--model_name", "dd", "--model_path", filepath.Join(modelsDir, "dummy_dynamic"),
		"--metrics_enable", "--plugin_arena_mb", "16")
	const n = 64 << 10 // floats: 256 KiB each way
	input := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(input[4*i:], math.Float32bits(float32(i)))
	}
	req := &kpb.ModelInferRequest{ModelName: "dd",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, n}}},
		RawInputContents: [][]byte{input}}
	check := func(resp *kpb.ModelInferResponse) {
		t.Helper()
		out := resp.GetRawOutputContents()
		if len(out) != 1 || len(out[0]) != 4*n {
			t.Fatalf("answer of %d outputs", len(out))
		}
		for i := 0; i < n; i += 997 {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(out[0][4*i:])); got != float32(i)+1 {
				t.Fatalf("a[%d] = %v", i, got)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A 64 KiB window: the server cannot send more of the answer until the
	// client reads, which these never do.
	var stalled []*grpc.ClientConn
	const stalledClients = 40
	for range stalledClients {
		conn, err := grpc.NewClient(s.grpcAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		st, err := conn.NewStream(ctx, &grpc.StreamDesc{}, "/inference.GRPCInferenceService/ModelInfer")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SendMsg(req); err != nil {
			t.Fatal(err)
		}
		if err := st.CloseSend(); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, conn)
	}
	// The server has answered them all (ovms counts an answer when its
	// handler returns, before the transport sends it).
	deadline := time.Now().Add(20 * time.Second)
	for successes(t, s) < stalledClients {
		if time.Now().After(deadline) {
			t.Fatalf("%.0f of %d stalled requests answered", successes(t, s), stalledClients)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// What stays in the arena is what the stalled clients were lent: a
	// quarter of it (16 answers); the copied answers' outputs were released
	// when their RPCs ended.
	var held float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if held = pluginArenaBytes(t, s); held == 4<<20 {
			break
		}
	}
	if held != 4<<20 {
		t.Fatalf("the stalled clients hold %.0f bytes of outputs, want 4 MiB (a quarter of the arena)", held)
	}
	// Others are served meanwhile.
	client := kpb.NewGRPCInferenceServiceClient(s.conn)
	for range 5 {
		resp, err := client.ModelInfer(ctx, req)
		if err != nil {
			t.Fatalf("with %d clients stalled: %v", stalledClients, err)
		}
		check(resp)
	}
	for _, c := range stalled {
		c.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); pluginArenaBytes(t, s) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%.0f bytes of outputs still held after the stalled clients left", pluginArenaBytes(t, s))
		}
	}
	for range 5 {
		resp, err := client.ModelInfer(ctx, req)
		if err != nil {
			t.Fatalf("after the stalled clients left: %v", err)
		}
		check(resp)
	}
}
