//go:build container

package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	kservepb "github.com/ovmsgo/ovms/proto/kserve"
)

var (
	image     = envOr("OVMS_IMAGE", "ovms:latest")
	repo      string // the repository root
	modelsDir string // build/models (make models)
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repo = filepath.Clean(filepath.Join(wd, "..", ".."))
	modelsDir = filepath.Join(repo, "build", "models")
	if os.Getenv("DOCKER_HOST") == "" {
		os.Setenv("DOCKER_HOST", "unix:///run/podman/podman.sock")
	}
	// Fail, not skip, when the engine or the image is missing: make
	// image-test provides both, and CI must not pass without them.
	if out, err := exec.Command("docker", "image", "inspect", image).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "container tests: image %s not found through %s (run make image-test): %v\n%s", image, os.Getenv("DOCKER_HOST"), err, out)
		os.Exit(1)
	}
	if _, err := os.Stat(filepath.Join(modelsDir, "dummy", "1", "model.onnx")); err != nil {
		fmt.Fprintf(os.Stderr, "container tests: %v (run make models)\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// docker runs the docker CLI and returns its combined output.
func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// container is a detached ovms container started with docker run; it is
// removed at the end of the test, its logs printed when the test failed.
type container struct {
	t    *testing.T
	name string
}

var seq int

// run starts `docker run -d --name N opts... IMAGE args...`.
func run(t *testing.T, opts []string, args ...string) *container {
	t.Helper()
	seq++
	c := &container{t: t, name: fmt.Sprintf("ovms-test-%d-%d", os.Getpid(), seq)}
	_, _ = docker(t, "rm", "-f", c.name)
	argv := append([]string{"run", "-d", "--name", c.name}, opts...)
	argv = append(argv, image)
	argv = append(argv, args...)
	mustDocker(t, argv...)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := docker(t, "logs", c.name)
			t.Logf("docker logs %s:\n%s", c.name, logs)
		}
		// docker rm has no -t (a stop timeout): -f kills at once. An error
		// here would leave the container running after the test.
		if _, err := docker(t, "rm", "-f", c.name); err != nil {
			t.Errorf("removing container %s: %v", c.name, err)
		}
	})
	return c
}

func (c *container) logs() string {
	out, _ := docker(c.t, "logs", c.name)
	return out
}

func (c *container) inspect(format string) string {
	return mustDocker(c.t, "inspect", "--format", format, c.name)
}

// freePort is a TCP port free on loopback now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// publish is `-p 127.0.0.1:HOST:CONTAINER` for two fresh host ports (gRPC
// 9000 and REST 8000 inside) and those ports.
func publish(t *testing.T) (opts []string, grpcPort, restPort int) {
	grpcPort, restPort = freePort(t), freePort(t)
	return []string{"-p", fmt.Sprintf("127.0.0.1:%d:9000", grpcPort), "-p", fmt.Sprintf("127.0.0.1:%d:8000", restPort)}, grpcPort, restPort
}

// waitReady polls GET /v2/models/NAME/ready (or /v2/health/ready when name
// is empty) until it answers 200.
func waitReady(t *testing.T, c *container, restPort int, name string, timeout time.Duration) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/v2/health/ready", restPort)
	if name != "" {
		url = fmt.Sprintf("http://127.0.0.1:%d/v2/models/%s/ready", restPort, name)
	}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (last: %v); container state %s", url, timeout, err, c.inspect("{{.State.Status}} exit {{.State.ExitCode}}"))
		}
		if c != nil && c.inspect("{{.State.Running}}") != "true" {
			t.Fatalf("container %s stopped before %s was ready: exit %s", c.name, url, c.inspect("{{.State.ExitCode}}"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restInfer sends the dummy model's request (b = 1..10) to model name over
// KServe REST and checks a = b + 1.
func restInfer(t *testing.T, restPort int, name string) error {
	t.Helper()
	body := `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v2/models/%s/infer", restPort, name), "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("REST infer %s: %s: %s", name, resp.Status, b)
	}
	var out struct {
		Outputs []struct {
			Name string    `json:"name"`
			Data []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("REST infer %s: %w: %s", name, err, b)
	}
	if len(out.Outputs) != 1 || len(out.Outputs[0].Data) != 10 || out.Outputs[0].Data[0] != 2 || out.Outputs[0].Data[9] != 11 {
		return fmt.Errorf("REST infer %s: want a = b + 1, got %s", name, b)
	}
	return nil
}

// grpcConn dials the published gRPC port.
func grpcConn(t *testing.T, port int) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// grpcInfer sends the dummy request to model name over KServe gRPC and
// checks a = b + 1.
func grpcInfer(ctx context.Context, conn *grpc.ClientConn, name string) error {
	in := make([]byte, 40)
	for i := 0; i < 10; i++ {
		putF32(in[4*i:], float32(i+1))
	}
	resp, err := kservepb.NewGRPCInferenceServiceClient(conn).ModelInfer(ctx, &kservepb.ModelInferRequest{
		ModelName:        name,
		Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		RawInputContents: [][]byte{in},
	})
	if err != nil {
		return fmt.Errorf("gRPC infer %s: %w", name, err)
	}
	if len(resp.RawOutputContents) != 1 || len(resp.RawOutputContents[0]) != 40 {
		return fmt.Errorf("gRPC infer %s: unexpected response %v", name, resp)
	}
	if got := getF32(resp.RawOutputContents[0][36:]); got != 11 {
		return fmt.Errorf("gRPC infer %s: a[9] = %v, want 11", name, got)
	}
	return nil
}

// modelDir makes a folder readable by any uid (the container's user) under
// the test's temporary folder, holding copies of the named models of
// build/models.
func modelDir(t *testing.T, models ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ovms-container-models-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		out, err := exec.Command("cp", "-rL", filepath.Join(modelsDir, m), filepath.Join(dir, m)).CombinedOutput()
		if err != nil {
			t.Fatalf("copying model %s: %v\n%s", m, err, out)
		}
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", dir).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v\n%s", err, out)
	}
	return dir
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// poll retries f every 200 ms until it returns nil or timeout passes.
func poll(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
