package integration

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// benchReport is the part of `ovms bench -f json` the tests read.
type benchReport struct {
	Model        string
	Protocol     string
	RequestBytes int `json:"request_bytes"`
	Levels       []struct {
		Concurrency int
		RequestRate float64 `json:"request_rate"`
		Throughput  float64
		P50         int64 `json:"p50_ns"`
		P99         int64 `json:"p99_ns"`
		Count       int64
		Errors      int64
		FirstError  string `json:"first_error"`
	}
}

// runBench runs `ovms bench` with short windows and returns its stdout.
func runBench(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"bench", "--warmup", "0", "--window", "100ms", "--max_trials", "3"}, args...)
	cmd := exec.Command(filepath.Join(binDir, "ovms"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ovms %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func parseBench(t *testing.T, out string) benchReport {
	t.Helper()
	var r benchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, out)
	}
	if len(r.Levels) == 0 {
		t.Fatalf("no levels:\n%s", out)
	}
	for _, l := range r.Levels {
		if l.Count == 0 || l.Errors != 0 || l.P50 <= 0 || l.P99 < l.P50 || l.Throughput <= 0 {
			t.Errorf("%s level %+v", r.Protocol, l)
		}
	}
	return r
}

func TestBenchEveryProtocol(t *testing.T) {
	s := startServer(t, "dummy")
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", s.grpcPort)
	restAddr := fmt.Sprintf("http://127.0.0.1:%d", s.restPort)
	for _, p := range []string{"kserve-grpc", "kserve-rest", "kserve-rest-binary", "tfs-grpc", "tfs-rest"} {
		t.Run(p, func(t *testing.T) {
			addr := restAddr
			if strings.HasSuffix(p, "grpc") {
				addr = grpcAddr
			}
			r := parseBench(t, runBench(t, "-m", "dummy", "-i", p, "-u", addr, "-f", "json"))
			if r.Model != "dummy" || r.Protocol != p || r.RequestBytes < 40 || len(r.Levels) != 1 || r.Levels[0].Concurrency != 1 {
				t.Errorf("report %+v", r)
			}
		})
	}
	s.alive()
}

func TestBenchSweepRateAndCSV(t *testing.T) {
	s := startServer(t, "dummy_dynamic")
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", s.grpcPort)
	r := parseBench(t, runBench(t, "-m", "dummy_dynamic", "-u", grpcAddr, "--shape", "b:2,5", "-c", "1:3:2", "-f", "json"))
	if len(r.Levels) != 2 || r.Levels[0].Concurrency != 1 || r.Levels[1].Concurrency != 3 || r.RequestBytes < 40 {
		t.Errorf("sweep %+v", r)
	}
	r = parseBench(t, runBench(t, "-m", "dummy_dynamic", "-u", grpcAddr, "--request_rate", "200", "-f", "json"))
	if l := r.Levels[0]; l.RequestRate != 200 || l.Throughput < 150 || l.Throughput > 250 {
		t.Errorf("rate %+v", r)
	}
	path := filepath.Join(t.TempDir(), "out.csv")
	runBench(t, "-m", "dummy_dynamic", "-i", "kserve-rest", "-u", fmt.Sprintf("127.0.0.1:%d", s.restPort), "-f", "csv", "-o", path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "concurrency" || rows[1][9] != "0" {
		t.Errorf("csv %q %v", rows, err)
	}
}

// Client shared memory needs the server side (--allow_client_shm); until
// ovms has it, the test only checks that the client fails cleanly.
func TestBenchSharedMemory(t *testing.T) {
	help, _ := exec.Command(filepath.Join(binDir, "ovms"), "--help").CombinedOutput()
	var extra []string
	if strings.Contains(string(help), "allow_client_shm") {
		extra = []string{"--allow_client_shm"}
	}
	s := startServer(t, "dummy", extra...)
	for _, p := range []string{"kserve-grpc", "kserve-rest"} {
		addr := fmt.Sprintf("127.0.0.1:%d", s.grpcPort)
		if p == "kserve-rest" {
			addr = fmt.Sprintf("127.0.0.1:%d", s.restPort)
		}
		args := []string{"bench", "--warmup", "0", "--window", "100ms", "--max_trials", "3",
			"-m", "dummy", "-i", p, "-u", addr, "--shared_memory", "system", "-f", "json"}
		cmd := exec.Command(filepath.Join(binDir, "ovms"), args...)
		out, err := cmd.CombinedOutput()
		if extra != nil {
			if err != nil {
				t.Fatalf("%s: %v\n%s", p, err, out)
			}
			parseBench(t, string(out))
		} else if err == nil || !strings.Contains(string(out), "register shared memory region") {
			t.Errorf("%s without server support: %v\n%s", p, err, out)
		}
		left, _ := filepath.Glob(fmt.Sprintf("/dev/shm/ovms_bench_%d_*", cmd.Process.Pid))
		if len(left) != 0 {
			t.Errorf("%s left %v", p, left)
		}
	}
	if extra == nil {
		t.Log("ovms has no --allow_client_shm yet: checked the clean failure only")
	}
}
