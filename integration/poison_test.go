package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// mockPids lists the ovms-device-mock children of s.
func mockPids(t *testing.T, s *server) []int {
	t.Helper()
	var out []int
	for _, c := range children(t, s.cmd.Process.Pid) {
		if filepath.Base(exe(c)) == "ovms-device-mock" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// inferValues sends b = first, first+1, ... ([1,10] FP32) to a dummy-shaped
// model with its own deadline and checks the +1 answer.
func inferValues(s *server, model string, first float32, deadline time.Duration) error {
	c, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(c, &kpb.ModelInferRequest{ModelName: model,
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, first)...)}})
	if err != nil {
		return err
	}
	if got := f32s(r.RawOutputContents[0]); !equal(got, seq(10, first+1)) {
		return fmt.Errorf("model %s answered %v", model, got)
	}
	return nil
}

// TestPoisonRequest serves "poison" and "dummy" on the mock device; the
// mock aborts its process on any request whose first value is 666 (as
// ONNX Runtime aborts on some kernels' inputs). While two clients keep
// calling dummy, one poison request is sent: it crashes the plugin, is
// retried once on the restarted plugin, crashes it again and fails with an
// error naming the model and version; its fingerprint is logged, and the
// same request sent again is refused without reaching the plugin. Other
// requests to poison still work, and no dummy request fails: with
// --plugin_isolation device they may wait for the restarts, with model
// dummy's plugin process is never touched.
func TestPoisonRequest(t *testing.T) {
	for _, isolation := range []string{"device", "model"} {
		t.Run(isolation, func(t *testing.T) {
			dir := t.TempDir()
			repoWithVersions(t, dir, "dummy", "dummy", 1)
			cfg := filepath.Join(dir, "config.json")
			writeConfig(t, cfg, `{"model_config_list": [
				{"config": {"name": "poison", "base_path": "dummy", "target_device": "MOCK", "plugin_config": {"MOCK_CRASH_ON": "666"}}},
				{"config": {"name": "dummy", "base_path": "dummy", "target_device": "MOCK"}}]}`)
			args := []string{"--config_path", cfg}
			if isolation != "device" { // device is the default
				args = append(args, "--plugin_isolation", isolation)
			}
			s := startArgs(t, args...)
			before := mockPids(t, s)
			if want := map[string]int{"device": 1, "model": 2}[isolation]; len(before) != want {
				t.Fatalf("%d mock plugin processes, want %d", len(before), want)
			}

			var ok, failed atomic.Int64
			var slowest atomic.Int64
			var mu sync.Mutex
			var failures []string
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for c := 0; c < 2; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						t0 := time.Now()
						err := inferValues(s, "dummy", float32(i%100), 10*time.Second)
						d := int64(time.Since(t0))
						for cur := slowest.Load(); d > cur && !slowest.CompareAndSwap(cur, d); cur = slowest.Load() {
						}
						if err != nil {
							failed.Add(1)
							mu.Lock()
							failures = append(failures, err.Error())
							mu.Unlock()
							continue
						}
						ok.Add(1)
					}
				}()
			}
			time.Sleep(300 * time.Millisecond)

			t0 := time.Now()
			err := inferValues(s, "poison", 666, 20*time.Second)
			took := time.Since(t0)
			st := status.Convert(err)
			if err == nil || st.Code() != codes.Internal || !strings.Contains(st.Message(), "model poison version 1") ||
				!strings.Contains(st.Message(), "crashed the mock device plugin (ovms-device-mock) twice") {
				t.Errorf("the poison request: %v after %v", err, took)
			}
			t.Logf("the poison request failed after %v: %s", took.Round(time.Millisecond), st.Message())
			fp := regexp.MustCompile(`fingerprint ([0-9a-f]{16})`).FindStringSubmatch(st.Message())
			if fp == nil || !strings.Contains(s.log(), fp[1]) {
				t.Errorf("no fingerprint in the error, or not logged: %q\n%s", st.Message(), s.log())
			}
			crashes := 0
			eventually(t, "two plugin crashes logged (the request and its one retry)", func() (bool, string) {
				crashes = strings.Count(s.log(), "device plugin process ended")
				return crashes == 2, fmt.Sprint(crashes)
			})

			// The same request again is refused at once; another one runs.
			t0 = time.Now()
			err = inferValues(s, "poison", 666, 10*time.Second)
			if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "refuses this request") || fp == nil || !strings.Contains(st.Message(), fp[1]) {
				t.Errorf("the poison request sent again: %v", err)
			}
			t.Logf("sent again, refused after %v", time.Since(t0).Round(time.Millisecond))
			if err := inferValues(s, "poison", 1, 10*time.Second); err != nil {
				t.Errorf("a good request to the poison model: %v", err)
			}
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			if n := strings.Count(s.log(), "device plugin process ended"); n != crashes {
				t.Errorf("the refused request reached the plugin: %d crashes logged, then %d", crashes, n)
			}
			t.Logf("dummy: %d ok, %d failed, slowest %v", ok.Load(), failed.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
			if failed.Load() > 0 {
				t.Errorf("%d dummy requests failed, e.g. %s", failed.Load(), failures[0])
			}
			after := mockPids(t, s)
			if isolation == "model" {
				kept := 0
				for _, p := range after {
					if slices.Contains(before, p) {
						kept++
					}
				}
				if len(after) != 2 || kept != 1 {
					t.Errorf("plugin processes %v, then %v: dummy's must stay the same and only poison's restart", before, after)
				}
				// A model removed from the configuration takes its process along.
				writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "dummy", "base_path": "dummy", "target_device": "MOCK"}}]}`)
				eventually(t, "poison's plugin process stopped", func() (bool, string) {
					now := mockPids(t, s)
					return len(now) == 1 && slices.Contains(after, now[0]), fmt.Sprint(now)
				})
				if err := inferValues(s, "dummy", 1, 10*time.Second); err != nil {
					t.Errorf("dummy after poison was removed: %v", err)
				}
			}
			s.alive()
		})
	}
}

// TestIsolatedFailedLoadStopsItsPlugin: with --plugin_isolation model, a
// model that cannot load leaves no plugin process behind; the others serve.
func TestIsolatedFailedLoadStopsItsPlugin(t *testing.T) {
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "dummy", 1, 2)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "broken", "base_path": "dummy", "target_device": "MOCK", "model_version_policy": {"all": {}}, "plugin_config": {"MOCK_FAIL_LOAD": "true"}}},
		{"config": {"name": "dummy", "base_path": "dummy", "target_device": "MOCK"}}]}`)
	s := startArgs(t, "--config_path", cfg, "--plugin_isolation", "model")
	eventually(t, "one mock plugin process (dummy's)", func() (bool, string) {
		p := mockPids(t, s)
		return len(p) == 1, fmt.Sprint(p)
	})
	if err := inferValues(s, "dummy", 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.log(), `stopping the device plugin: no model uses it" component=plugin_host plugin=mock/broken`) {
		t.Errorf("broken's process was not stopped:\n%s", s.log())
	}
}
