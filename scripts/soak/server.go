package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The models of the soak, all copies of the generated dummy model
// (b FP32 [1,10] -> a = b + 1).
const (
	stableModel   = "stable"   // never changes: every request must succeed
	reloadedModel = "reloaded" // its options change on every config rewrite
	cycledModel   = "cycled"   // unloaded and loaded through the repository API
	extraModel    = "extra"    // in every other config rewrite
)

// server is the running ovms.
type server struct {
	cmd        *exec.Cmd
	done       chan struct{}
	dir, cfg   string
	logPath    string
	restURL    string
	grpcTarget string
	conn       *grpc.ClientConn
}

// startServer copies the dummy model into dir for each model, writes the
// first config.json and starts ovms on free loopback ports, waiting until
// it is ready.
func startServer(ctx context.Context, opt options, dir string) (*server, error) {
	src, err := os.ReadFile(filepath.Join(opt.modelsDir, "dummy", "1", "model.onnx"))
	if err != nil {
		return nil, fmt.Errorf("%w (run make models)", err)
	}
	for _, m := range []string{stableModel, reloadedModel, cycledModel, extraModel} {
		if err := os.MkdirAll(filepath.Join(dir, m, "1"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, m, "1", "model.onnx"), src, 0o644); err != nil {
			return nil, err
		}
	}
	s := &server{dir: dir, cfg: filepath.Join(dir, "config.json"), logPath: filepath.Join(dir, "ovms.log"), done: make(chan struct{})}
	if err := s.writeConfig(0); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s.grpcTarget, s.restURL = fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s.cmd = exec.Command(filepath.Join(opt.binDir, "ovms"), "--config_path", s.cfg,
		"--port", strconv.Itoa(ports[0]), "--rest_port", strconv.Itoa(ports[1]),
		"--grpc_bind_address", "127.0.0.1", "--rest_bind_address", "127.0.0.1",
		"--file_system_poll_wait_seconds", "1", "--log_path", s.logPath)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ovms: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, err
	}
	if s.conn, err = grpc.NewClient(s.grpcTarget, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// writeConfig writes config.json for rewrite number n (atomically): the
// reloaded model's nireq alternates between 0 and 2, the extra model is
// there in even rewrites.
func (s *server) writeConfig(n int) error {
	entry := func(name, opts string) string {
		return fmt.Sprintf(`{"config": {"name": %q, "base_path": %q%s}}`, name, name, opts)
	}
	entries := []string{entry(stableModel, ""), entry(cycledModel, ""), entry(reloadedModel, fmt.Sprintf(`, "nireq": %d`, 2*(n%2)))}
	if n%2 == 0 {
		entries = append(entries, entry(extraModel, ""))
	}
	tmp := s.cfg + ".tmp"
	if err := os.WriteFile(tmp, []byte(`{"model_config_list": [`+strings.Join(entries, ", ")+"]}\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.cfg)
}

// waitReady polls readiness for up to a minute.
func (s *server) waitReady(ctx context.Context) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		select {
		case <-s.done:
			log, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("ovms exited during startup (%v):\n%s", s.cmd.ProcessState, log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(s.restURL + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("ovms not ready after a minute (log %s)", s.logPath)
}

// alive reports whether ovms still runs.
func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop ends ovms with SIGTERM (SIGKILL after 20 s).
func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	if !s.alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// freePorts asks for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
