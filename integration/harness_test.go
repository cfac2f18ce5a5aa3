package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Paths set up once by TestMain.
var (
	binDir    string // ovms and plugin binaries
	modelsDir string // generated model repository
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "ovms-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binDir, modelsDir = filepath.Join(tmp, "bin"), filepath.Join(tmp, "models")
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	steps := [][]string{
		{"go", "build", "-tags", "urfave_cli_no_docs", "-o", filepath.Join(binDir, "ovms"), "./cli/ovms"}, // as the Makefile builds it
		{"go", "build", "-o", filepath.Join(binDir, "ovms-device-cpu"), "./devices/cpu"},
		{"go", "build", "-o", filepath.Join(binDir, "ovms-device-gpu"), "./devices/gpu"},
		{"go", "build", "-o", filepath.Join(binDir, "ovms-device-cuda"), "./devices/cuda"},
		{"go", "build", "-o", filepath.Join(binDir, "ovms-device-mock"), "./devices/mock"},
		{"go", "build", "-o", filepath.Join(binDir, "ovms-node-argmax"), "./examples/argmax"},
		{"go", "build", "-o", filepath.Join(binDir, "ovms-node-cropboxes"), "./examples/cropboxes"},
		{"go", "run", "./scripts/testmodels", "-out", modelsDir},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(s, " "), err, out)
			return 1
		}
	}
	return m.Run()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// server is one running ovms process.
type server struct {
	t        *testing.T
	cmd      *exec.Cmd
	grpcPort int
	restPort int
	logPath  string
	out      *syncBuffer
	done     chan struct{}
	conn     *grpc.ClientConn
	// scheme of url ("" is http) and the client waitReady polls with
	// (nil: http.DefaultClient); set for servers with TLS.
	scheme string
	httpc  *http.Client
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct free ports (the listeners are held open
// together, so the kernel cannot hand out one port twice).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// startServer runs ovms serving model from the generated repository, with
// extra flags, and waits until it is ready.
func startServer(t *testing.T, model string, extra ...string) *server {
	t.Helper()
	return startCommand(t, nil, model, extra...)
}

// startCommand is startServer with leading arguments (e.g. "serve").
func startCommand(t *testing.T, lead []string, model string, extra ...string) *server {
	t.Helper()
	return startAt(t, lead, model, filepath.Join(modelsDir, model), extra...)
}

// startAt is startCommand serving model from path.
func startAt(t *testing.T, lead []string, model, path string, extra ...string) *server {
	t.Helper()
	return startArgs(t, append(append(lead, "--model_name", model, "--model_path", path), extra...)...)
}

// startArgs runs ovms with args plus free ports, loopback addresses and a
// log file, and waits until it is ready.
func startArgs(t *testing.T, args ...string) *server {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is startArgs with extra environment variables (KEY=value).
func startEnv(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	s := launch(t, env, args...)
	s.waitReady()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", s.grpcPort),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	s.conn = conn
	return s
}

// launch starts ovms as startEnv does, without waiting for it.
func launch(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	ports := freePorts(t, 2)
	s := &server{t: t, grpcPort: ports[0], restPort: ports[1], out: &syncBuffer{}, done: make(chan struct{})}
	s.logPath = filepath.Join(t.TempDir(), "ovms.log")
	args = append(args,
		"--port", fmt.Sprint(s.grpcPort), "--rest_port", fmt.Sprint(s.restPort),
		"--grpc_bind_address", "127.0.0.1", "--rest_bind_address", "127.0.0.1",
		"--log_path", s.logPath,
	)
	s.cmd = exec.Command(filepath.Join(binDir, "ovms"), args...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	return s
}

func (s *server) url(path string) string {
	scheme := s.scheme
	if scheme == "" {
		scheme = "http"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, s.restPort, path)
}

// waitReady polls the KServe readiness endpoint until the model is loaded.
func (s *server) waitReady() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.t.Fatalf("ovms exited during startup: %v\n%s\n%s", s.cmd.ProcessState, s.out, s.log())
		default:
		}
		c := s.httpc
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Get(s.url("/v2/health/ready"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("ovms not ready after 30s\n%s\n%s", s.out, s.log())
}

func (s *server) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// stop ends the server with SIGTERM (graceful) and waits for it.
func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("ovms did not stop within 20s of SIGTERM")
	}
}

// alive fails the test if the server process has exited.
func (s *server) alive() {
	s.t.Helper()
	select {
	case <-s.done:
		s.t.Fatalf("ovms exited: %v\n%s\n%s", s.cmd.ProcessState, s.out, s.log())
	default:
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// grpcAddr is the server's gRPC address.
func (s *server) grpcAddr() string { return fmt.Sprintf("127.0.0.1:%d", s.grpcPort) }
