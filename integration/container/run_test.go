//go:build container

package container

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ovmsgo/ovms/integration/storageservers"
	kservepb "github.com/ovmsgo/ovms/proto/kserve"
)

func putF32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }
func getF32(b []byte) float32    { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// TestImage checks what the image is: user 5000, the entrypoint, the OCI
// labels, the health check, the plugins and ONNX Runtime in place, and no
// mock plugin.
func TestImage(t *testing.T) {
	got := mustDocker(t, "image", "inspect", "--format",
		"{{.Config.User}}|{{json .Config.Entrypoint}}|{{index .Config.Labels \"org.opencontainers.image.version\"}}|{{index .Config.Labels \"org.opencontainers.image.source\"}}", image)
	// podman's Docker API leaves the health check out of image inspect; ask podman.
	hc, err := exec.Command("podman", "image", "inspect", "--format", "{{json .HealthCheck.Test}}", image).CombinedOutput()
	if err != nil {
		t.Fatalf("podman image inspect: %v\n%s", err, hc)
	}
	got += "|" + strings.TrimSpace(string(hc))
	parts := strings.Split(got, "|")
	if len(parts) != 5 {
		t.Fatalf("inspect: %q", got)
	}
	if parts[0] != "5000:5000" {
		t.Errorf("user %q, want 5000:5000", parts[0])
	}
	if parts[1] != `["/ovms/bin/ovms"]` {
		t.Errorf("entrypoint %s", parts[1])
	}
	if parts[2] == "" || parts[3] == "" {
		t.Errorf("OCI labels version %q source %q: want both", parts[2], parts[3])
	}
	if parts[4] != `["CMD","/ovms/bin/ovms","health"]` {
		t.Errorf("healthcheck %s", parts[4])
	}
	// `ovms plugin list` in the image: the device plugins, and no mock.
	out, err := docker(t, "run", "--rm", image, "plugin", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	for _, d := range []string{"cpu", "gpu", "myriad", "hddl", "cuda"} {
		if lines[d] == "" {
			t.Errorf("plugin list lacks %s:\n%s", d, out)
		}
	}
	if !strings.Contains(lines["cpu"], "onnxruntime 1.30.0") || !strings.Contains(lines["cpu"], "available") {
		t.Errorf("the CPU plugin is not available with ONNX Runtime 1.30.0:\n%s", out)
	}
	if lines["mock"] != "" {
		t.Errorf("the mock plugin ships in the image:\n%s", out)
	}
	out, err = docker(t, "run", "--rm", image, "--version")
	if err != nil || !strings.Contains(out, "OpenVINO Model Server") {
		t.Errorf("--version: %v\n%s", err, out)
	}
}

// TestSingleModel is the guide's first command: a model folder mounted
// with -v, ports published with -p, REST and gRPC answering.
func TestSingleModel(t *testing.T) {
	models := modelDir(t, "dummy")
	opts, grpcPort, restPort := publish(t)
	c := run(t, append(opts, "-v", models+":/models:ro"),
		"--model_name", "dummy", "--model_path", "/models/dummy", "--port", "9000", "--rest_port", "8000")
	waitReady(t, c, restPort, "dummy", 60*time.Second)
	if err := restInfer(t, restPort, "dummy"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := grpcInfer(ctx, grpcConn(t, grpcPort), "dummy"); err != nil {
		t.Fatal(err)
	}
	// The health subcommand answers from inside the container (no shell).
	if out, err := docker(t, "exec", c.name, "/ovms/bin/ovms", "health"); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("ovms health in the container: %v %s", err, out)
	}
	if out, err := docker(t, "exec", c.name, "/ovms/bin/ovms", "health", "--port", "9000"); err != nil {
		t.Fatalf("ovms health over gRPC: %v %s", err, out)
	}
}

// TestConfigReload serves several models from a mounted config.json, then
// rewrites the file: the added model comes, the removed one goes.
func TestConfigReload(t *testing.T) {
	models := modelDir(t, "dummy", "add_two_inputs")
	cfgDir, err := os.MkdirTemp("", "ovms-container-config-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cfgDir) })
	if err := os.Chmod(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := func(names ...string) []byte {
		var list []string
		for _, n := range names {
			base := "/models/dummy"
			if n == "add_two_inputs" {
				base = "/models/add_two_inputs"
			}
			list = append(list, fmt.Sprintf(`{"config": {"name": %q, "base_path": %q}}`, n, base))
		}
		return []byte(`{"model_config_list": [` + strings.Join(list, ",") + `]}`)
	}
	cfg := filepath.Join(cfgDir, "config.json")
	writeFile(t, cfg, config("dummy", "first", "add_two_inputs"))
	opts, _, restPort := publish(t)
	c := run(t, append(opts, "-v", models+":/models:ro", "-v", cfgDir+":/config:ro"),
		"--config_path", "/config/config.json", "--port", "9000", "--rest_port", "8000", "--file_system_poll_wait_seconds", "1")
	for _, m := range []string{"dummy", "first", "add_two_inputs"} {
		waitReady(t, c, restPort, m, 60*time.Second)
	}
	for _, m := range []string{"dummy", "first"} {
		if err := restInfer(t, restPort, m); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, cfg, config("dummy", "second", "add_two_inputs"))
	poll(t, 60*time.Second, "model second after the reload", func() error { return restInfer(t, restPort, "second") })
	poll(t, 30*time.Second, "model first gone after the reload", func() error {
		if restInfer(t, restPort, "first") == nil {
			return fmt.Errorf("first still serves")
		}
		return nil
	})
	if err := restInfer(t, restPort, "dummy"); err != nil {
		t.Fatalf("dummy after the reload: %v", err)
	}
}

// TestReadOnlyUser runs the image with a read-only root, a tmpfs /tmp, an
// arbitrary uid and the models read-only.
func TestReadOnlyUser(t *testing.T) {
	models := modelDir(t, "dummy")
	opts, grpcPort, restPort := publish(t)
	c := run(t, append(opts, "--read-only", "--tmpfs", "/tmp", "--user", "1234:1234", "-v", models+":/models:ro"),
		"--model_name", "dummy", "--model_path", "/models/dummy", "--port", "9000", "--rest_port", "8000")
	waitReady(t, c, restPort, "dummy", 60*time.Second)
	if err := restInfer(t, restPort, "dummy"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := grpcInfer(ctx, grpcConn(t, grpcPort), "dummy"); err != nil {
		t.Fatal(err)
	}
}

// TestS3 serves a model from the S3 server of the integration tests, with
// the credentials and endpoint passed as -e. The container shares the host's
// network (the server listens on loopback only).
func TestS3(t *testing.T) {
	srv, err := storageservers.StartS3()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "models"); err != nil {
		t.Fatal(err)
	}
	if err := storageservers.UploadDir(ctx, srv, filepath.Join(modelsDir, "dummy"), "models", "repo/dummy"); err != nil {
		t.Fatal(err)
	}
	grpcPort, restPort := freePort(t), freePort(t)
	opts := []string{"--network", "host", "--read-only", "--tmpfs", "/tmp"}
	for _, e := range srv.Env() {
		opts = append(opts, "-e", e)
	}
	c := run(t, opts, "--model_name", "dummy", "--model_path", "s3://models/repo/dummy",
		"--port", fmt.Sprint(grpcPort), "--rest_port", fmt.Sprint(restPort))
	waitReady(t, c, restPort, "dummy", 60*time.Second)
	if err := restInfer(t, restPort, "dummy"); err != nil {
		t.Fatal(err)
	}
}

// TestWrongFlag: an unknown flag ends the container with OVMS's usage exit
// code and message, in docker logs, the same as the binary run directly.
func TestWrongFlag(t *testing.T) {
	args := []string{"--model_name", "m", "--model_path", "/models/m", "--port", "9000", "--no_such_flag", "1"}
	c := run(t, nil, args...)
	code := mustDocker(t, "wait", c.name)
	if code != "64" {
		t.Fatalf("exit code %s, want 64 (usage)", code)
	}
	logs := c.logs()
	local, err := exec.Command(filepath.Join(repo, "bin", "ovms"), args...).CombinedOutput()
	if err == nil {
		t.Fatalf("bin/ovms accepted %v", args)
	}
	if strings.TrimSpace(logs) != strings.TrimSpace(string(local)) || !strings.Contains(logs, "no_such_flag") {
		t.Fatalf("docker logs:\n%s\nwant what bin/ovms prints:\n%s", logs, local)
	}
}

// TestSIGTERM stops a container under load with docker stop: requests in
// flight when the signal comes finish with answers, and ovms exits 0 well
// within the grace period (no SIGKILL).
func TestSIGTERM(t *testing.T) {
	// dummy_dynamic with a 2M-row batch (80 MB each way): slow enough that
	// requests are surely in flight when the signal comes.
	models := modelDir(t, "dummy_dynamic")
	opts, grpcPort, restPort := publish(t)
	c := run(t, append(opts, "-v", models+":/models:ro"),
		"--model_name", "big", "--model_path", "/models/dummy_dynamic", "--port", "9000", "--rest_port", "8000")
	waitReady(t, c, restPort, "big", 120*time.Second)
	conn := grpcConn(t, grpcPort)
	client := kservepb.NewGRPCInferenceServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	meta, err := client.ModelMetadata(ctx, &kservepb.ModelMetadataRequest{Name: "big"})
	if err != nil {
		t.Fatal(err)
	}
	req := &kservepb.ModelInferRequest{ModelName: "big"}
	for _, in := range meta.Inputs {
		shape := append([]int64(nil), in.Shape...)
		n := int64(4)
		for i, d := range shape {
			if d < 0 {
				shape[i] = 1
				if i == 0 {
					shape[i] = 2 << 20
				}
			}
			n *= shape[i]
		}
		req.Inputs = append(req.Inputs, &kservepb.ModelInferRequest_InferInputTensor{Name: in.Name, Datatype: in.Datatype, Shape: shape})
		req.RawInputContents = append(req.RawInputContents, make([]byte, n))
	}
	start := time.Now()
	big := []grpc.CallOption{grpc.MaxCallRecvMsgSize(1 << 30), grpc.MaxCallSendMsgSize(1 << 30)}
	if _, err := client.ModelInfer(ctx, req, big...); err != nil {
		t.Fatal(err)
	}
	one := time.Since(start)
	t.Logf("one 80 MB inference through the container: %s", one)

	type result struct {
		sent, done time.Time
		err        error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		stopped = make(chan struct{})
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopped:
					return
				default:
				}
				r := result{sent: time.Now()}
				_, r.err = client.ModelInfer(ctx, req, big...)
				r.done = time.Now()
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if r.err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(3*one + 500*time.Millisecond)
	stopAt := time.Now()
	if _, err := docker(t, "stop", "-t", "30", c.name); err != nil {
		t.Fatal(err)
	}
	took := time.Since(stopAt)
	close(stopped)
	wg.Wait()
	code := c.inspect("{{.State.ExitCode}}")
	t.Logf("docker stop took %s; exit code %s; %d requests", took, code, len(results))
	if code != "0" {
		t.Fatalf("exit code %s after SIGTERM, want 0 (137 is a SIGKILL at the end of the grace period)", code)
	}
	if took > 25*time.Second {
		t.Fatalf("docker stop took %s", took)
	}
	inflight, ok := 0, 0
	for _, r := range results {
		if r.err == nil {
			ok++
		}
		// Sent well before the signal, answered after it: in flight.
		if r.sent.Before(stopAt.Add(-50*time.Millisecond)) && r.done.After(stopAt) {
			inflight++
			if r.err != nil {
				t.Errorf("a request in flight at SIGTERM (sent %s before) failed: %v", stopAt.Sub(r.sent), r.err)
			}
		}
	}
	if ok == 0 {
		t.Fatal("no request succeeded")
	}
	t.Logf("%d requests in flight at the signal, all answered", inflight)
	if inflight == 0 {
		t.Logf("no request was in flight at the signal (the check above had nothing to look at)")
	}
	if !strings.Contains(strings.ToLower(c.logs()), "shut") {
		t.Logf("logs:\n%s", c.logs())
	}
}

// TestHealthcheck: the image's HEALTHCHECK (ovms health, no shell) turns the
// container healthy once the model is ready; podman runs it through
// `podman healthcheck run`, which scripts/image/podman-setup.sh loops over.
func TestHealthcheck(t *testing.T) {
	models := modelDir(t, "dummy")
	opts, _, restPort := publish(t)
	c := run(t, append(opts, "-v", models+":/models:ro", "--health-interval", "2s"),
		"--model_name", "dummy", "--model_path", "/models/dummy", "--port", "9000", "--rest_port", "8000")
	poll(t, 90*time.Second, "health status healthy", func() error {
		if s := c.inspect("{{.State.Health.Status}}"); s != "healthy" {
			return fmt.Errorf("status %q", s)
		}
		return nil
	})
	waitReady(t, c, restPort, "dummy", time.Second)
	// A server with only a gRPC port: the check asks gRPC health.
	opts2 := []string{"-v", models + ":/models:ro", "--health-interval", "2s"}
	c2 := run(t, opts2, "--model_name", "dummy", "--model_path", "/models/dummy", "--port", "9000")
	poll(t, 90*time.Second, "gRPC-only server healthy", func() error {
		if s := c2.inspect("{{.State.Health.Status}}"); s != "healthy" {
			return fmt.Errorf("status %q", s)
		}
		return nil
	})
	// A server whose model cannot load is never healthy: ready stays false.
	c3 := run(t, []string{"--health-interval", "2s", "--health-start-period", "0s", "--health-retries", "1"},
		"--config_path", "/nonexistent/config.json", "--port", "9000", "--rest_port", "8000")
	time.Sleep(6 * time.Second)
	if s := c3.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}} {{.State.Status}}"); strings.HasPrefix(s, "healthy") {
		t.Fatalf("a server without its config is %q", s)
	}
}
