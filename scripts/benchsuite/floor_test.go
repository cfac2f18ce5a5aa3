package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestEchoAnswersResNetSized checks the floor's echo model: resnet50's
// 600 KB request is answered with 1000 FP32s, not echoed.
func TestEchoAnswersResNetSized(t *testing.T) {
	conn, err := grpc.NewClient(serveEchoForTest(t), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := kpb.NewGRPCInferenceServiceClient(conn)
	md, err := c.ModelMetadata(context.Background(), &kpb.ModelMetadataRequest{Name: "resnet50"})
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Outputs[0].Shape; len(got) != 2 || got[1] != 1000 {
		t.Errorf("output shape %v, want [1 1000]", got)
	}
	resp, err := c.ModelInfer(context.Background(), &kpb.ModelInferRequest{ModelName: "resnet50",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 3, 224, 224}}},
		RawInputContents: [][]byte{make([]byte, 4*3*224*224)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.RawOutputContents) != 1 || len(resp.RawOutputContents[0]) != 4000 || resp.Outputs[0].Name != "output" {
		t.Errorf("answer: %d contents, first %d bytes, outputs %v", len(resp.RawOutputContents), len(resp.RawOutputContents[0]), resp.Outputs)
	}
}

// TestEchoTraffic checks that the traffic beside the engine runs at about
// the rate asked and stops when told.
func TestEchoTraffic(t *testing.T) {
	s := &suite{ctx: context.Background(), echo: &echoProc{addr: serveEchoForTest(t)}}
	var answered, failed atomic.Int64
	stop, err := s.echoTraffic("resnet50", 100, &answered, &failed)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	n := answered.Load()
	if n < 10 || n > 60 || failed.Load() != 0 {
		t.Errorf("answered %d (want about 50 at 100/s for 0.5 s), failed %d", n, failed.Load())
	}
	time.Sleep(50 * time.Millisecond)
	if answered.Load() != n {
		t.Error("the traffic went on after stop")
	}
	if _, err := s.echoTraffic("nope", 100, &answered, &failed); err == nil {
		t.Error("an unknown echo model was accepted")
	}
}

func TestMean(t *testing.T) {
	if m := mean([]float64{0.9, 0.8, 1.0}); m < 0.8999 || m > 0.9001 {
		t.Errorf("mean %v, want 0.9", m)
	}
	if mean(nil) != 0 {
		t.Error("mean of nothing is not 0")
	}
}
