package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartupFailureSaysWhatFailedOnce: when a port is taken, ovms exits 1
// with one line naming the flag, the address and the cause, and logs no
// "started" or "stopped" line for a server it did not run.
func TestStartupFailureSaysWhatFailedOnce(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	free := freePort(t)
	for _, c := range []struct {
		name       string
		grpc, rest int
		want       string
	}{
		{"grpc port taken", busy, free, fmt.Sprintf("server failed to start: --port %d: cannot listen on 127.0.0.1:%d: ", busy, busy)},
		{"rest port taken", free, busy, fmt.Sprintf("server failed to start: --rest_port %d: cannot listen on 127.0.0.1:%d: ", busy, busy)},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runOVMS(t, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"),
				"--port", fmt.Sprint(c.grpc), "--rest_port", fmt.Sprint(c.rest),
				"--grpc_bind_address", "127.0.0.1", "--rest_bind_address", "127.0.0.1")
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) || !strings.HasSuffix(lines[0], "address already in use") {
				t.Errorf("exit %d, stderr %q; want one line %q...address already in use", code, stderr, c.want)
			}
			for _, bad := range []string{"started grpc server", "started rest server", "grpc server stopped", "rest server stopped"} {
				if strings.Contains(out, bad) {
					t.Errorf("the log says %q:\n%s", bad, out)
				}
			}
		})
	}
}

// TestCorruptModelNamesTheFile: a model.onnx that is not an ONNX model
// fails the load with an error naming the file.
func TestCorruptModelNamesTheFile(t *testing.T) {
	repo := t.TempDir()
	file := filepath.Join(repo, "1", "model.onnx")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("this is not a protobuf"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runOVMS(t, "--model_name", "broken", "--model_path", repo, "--port", "0", "--rest_port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "Cannot compile model into target device") || !strings.Contains(stderr, file+": ") {
		t.Errorf("exit %d, stderr %q; want the load error naming %s", code, stderr, file)
	}
}

// TestBenchSharedMemoryNamesTheFlag: `ovms bench --shared_memory system`
// against a server started without --allow_client_shm says which server
// flag is missing, over gRPC and REST.
func TestBenchSharedMemoryNamesTheFlag(t *testing.T) {
	s := startServer(t, "dummy")
	for _, p := range []string{"kserve-grpc", "kserve-rest"} {
		addr := s.grpcAddr()
		if p == "kserve-rest" {
			addr = fmt.Sprintf("http://127.0.0.1:%d", s.restPort)
		}
		cmd := exec.Command(filepath.Join(binDir, "ovms"), "bench", "--warmup", "0", "--window", "100ms", "--max_trials", "3",
			"-m", "dummy", "-i", p, "-u", addr, "--shared_memory", "system")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "start ovms with --allow_client_shm") {
			t.Errorf("%s: %v\n%s", p, err, out)
		}
		left, _ := filepath.Glob(fmt.Sprintf("/dev/shm/ovms_bench_%d_*", cmd.Process.Pid))
		if len(left) != 0 {
			t.Errorf("%s left %v", p, left)
		}
	}
}

// TestConfigFileFIFOFailsTheStart: a --config_path that is a FIFO (whose
// open would wait for a writer forever) ends the start at once with
// OVMS's "Configuration file not found or cannot open", naming the file.
func TestConfigFileFIFOFailsTheStart(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := runOVMS(t, "--config_path", fifo, "--port", "0", "--rest_port", fmt.Sprint(freePort(t)))
		done <- result{code, out, stderr}
	}()
	select {
	case r := <-done:
		all := r.out + r.stderr
		if r.code == 0 || !strings.Contains(all, "Configuration file not found or cannot open") || !strings.Contains(all, "not a regular file") {
			t.Errorf("exit %d, output:\n%s", r.code, all)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ovms with a FIFO as --config_path did not end within 20 s")
	}
}
