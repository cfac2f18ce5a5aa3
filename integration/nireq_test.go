package integration

import (
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestNireqQueueing: with --nireq 1 only one request of a version is in
// the plugin at a time; the others queue, and with a tiny
// --nireq_timeout_ms some give up with a clear RESOURCE_EXHAUSTED error;
// with a generous bound every request succeeds.
func TestNireqQueueing(t *testing.T) {
	big := make([]byte, 8<<20) // 8 MiB through the identity model: some milliseconds each
	run := func(s *server) (ok, timedOut int, other []string) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kc := kpb.NewGRPCInferenceServiceClient(s.conn)
				for i := 0; i < 4; i++ {
					_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8",
						Inputs: []*inT{{Name: "input", Datatype: "UINT8", Shape: []int64{2048, 4096}}}, RawInputContents: [][]byte{big}})
					mu.Lock()
					st := status.Convert(err)
					switch {
					case err == nil:
						ok++
					case st.Code() == codes.ResourceExhausted && strings.HasPrefix(st.Message(),
						"Timed out waiting for a free inference request - model passthrough_u8 version 1 has all its 1 inference requests (nireq) busy for 1ms"):
						timedOut++
					default:
						other = append(other, st.String())
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return
	}
	s := startServer(t, "passthrough_u8", "--nireq", "1", "--nireq_timeout_ms", "1")
	ok, timedOut, other := run(s)
	t.Logf("nireq 1, 1 ms bound: %d ok, %d timed out", ok, timedOut)
	if ok == 0 || timedOut == 0 || len(other) > 0 {
		t.Errorf("want some successes and some timeouts, nothing else: %d ok, %d timed out, other %v", ok, timedOut, other)
	}
	s.alive()
	s.stop()
	s = startServer(t, "passthrough_u8", "--nireq", "1", "--nireq_timeout_ms", "30000")
	ok, timedOut, other = run(s)
	if ok != 32 || timedOut != 0 || len(other) > 0 {
		t.Errorf("with a 30 s bound every request must succeed: %d ok, %d timed out, other %v", ok, timedOut, other)
	}
}
