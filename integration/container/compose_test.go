//go:build container

package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// compose runs docker-compose with the project name and environment given.
func compose(t *testing.T, project string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", project}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker-compose %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// upStack brings a compose file up with up -d (which returns only once the
// health-gated dependencies are healthy) and takes it down at the end.
func upStack(t *testing.T, project, file string, env []string) {
	t.Helper()
	down := func() { _, _ = compose(t, project, env, "-f", file, "down", "-v", "-t", "5") }
	down()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := compose(t, project, env, "-f", file, "logs", "--no-color")
			t.Logf("docker-compose logs:\n%s", out)
		}
		down()
	})
	start := time.Now()
	if out, err := compose(t, project, env, "-f", file, "up", "-d"); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("docker-compose up -d (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	}
}

// stackContainer is the compose container of service in project.
func stackContainer(t *testing.T, project, service string) *container {
	t.Helper()
	id := mustDocker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project, "--filter", "label=com.docker.compose.service="+service)
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("container of service %s: %q", service, id)
	}
	return &container{t: t, name: id}
}

// TestComposeLocal: docker-compose.yml serves a model from a local folder;
// smoke starts only after ovms is healthy and its check exits 0.
func TestComposeLocal(t *testing.T) {
	models := modelDir(t, "dummy")
	grpcPort, restPort := freePort(t), freePort(t)
	project := fmt.Sprintf("ovmslocal%d", os.Getpid())
	env := []string{"OVMS_IMAGE=" + image, "OVMS_MODELS=" + models, fmt.Sprintf("OVMS_GRPC_PORT=127.0.0.1:%d", grpcPort), fmt.Sprintf("OVMS_REST_PORT=127.0.0.1:%d", restPort)}
	upStack(t, project, "docker-compose.yml", env)
	ovms := stackContainer(t, project, "ovms")
	if s := ovms.inspect("{{.State.Health.Status}}"); s != "healthy" {
		t.Fatalf("ovms is %q after up -d returned (smoke depends on it being healthy)", s)
	}
	if err := restInfer(t, restPort, "dummy"); err != nil {
		t.Fatal(err)
	}
	smoke := stackContainer(t, project, "smoke")
	poll(t, 30*time.Second, "smoke exits", func() error {
		if s := smoke.inspect("{{.State.Status}}"); s != "exited" {
			return fmt.Errorf("smoke is %s", s)
		}
		return nil
	})
	if code := smoke.inspect("{{.State.ExitCode}}"); code != "0" {
		t.Fatalf("smoke (ovms health --address ovms over the compose network) exited %s: %s", code, smoke.logs())
	}
}

// TestComposeS3: docker-compose.s3.yml seeds an S3 server with example
// models; ovms starts once it is healthy and serves from s3://.
func TestComposeS3(t *testing.T) {
	bin := filepath.Join(repo, "build", "image-test", "s3server")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v (make image-test builds it)", err)
	}
	base := envOr("BASE_IMAGE", "debian:bookworm-slim")
	build := exec.Command("docker", "build", "-q", "--build-arg", "BASE_IMAGE="+base, "-t", "ovms-s3:test",
		"-f", filepath.Join(repo, "integration", "container", "testdata", "s3.Dockerfile"), filepath.Dir(bin))
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build of the S3 server image: %v\n%s", err, out)
	}
	seed := modelDir(t, "dummy", "add_two_inputs")
	grpcPort, restPort := freePort(t), freePort(t)
	project := fmt.Sprintf("ovmss3%d", os.Getpid())
	env := []string{"OVMS_IMAGE=" + image, "OVMS_SEED=" + seed, fmt.Sprintf("OVMS_GRPC_PORT=127.0.0.1:%d", grpcPort), fmt.Sprintf("OVMS_REST_PORT=127.0.0.1:%d", restPort)}
	upStack(t, project, "docker-compose.s3.yml", env)
	if s := stackContainer(t, project, "s3").inspect("{{.State.Health.Status}}"); s != "healthy" {
		t.Fatalf("s3 is %q after up -d returned (ovms depends on it being healthy)", s)
	}
	ovms := stackContainer(t, project, "ovms")
	poll(t, 90*time.Second, "ovms healthy", func() error {
		if s := ovms.inspect("{{.State.Health.Status}}"); s != "healthy" {
			return fmt.Errorf("ovms is %q", s)
		}
		return nil
	})
	if err := restInfer(t, restPort, "dummy"); err != nil {
		t.Fatal(err)
	}
}

// TestComposeMetrics: docker-compose.metrics.yml runs ovms with
// --metrics_enable and Prometheus (the image built from Debian's package by
// scripts/image/prometheus-image.sh) scraping it across the compose network;
// Prometheus starts once ovms is healthy. After REST and gRPC inferences,
// Prometheus's query API returns ovms_requests_success equal to the number of
// requests sent, and its target is up. docker-compose down leaves no
// container or network of the project behind.
func TestComposeMetrics(t *testing.T) {
	promImage := envOr("OVMS_PROMETHEUS_IMAGE", "ovms-prometheus:latest")
	if out, err := docker(t, "image", "inspect", promImage); err != nil {
		t.Fatalf("image %s (make image-test builds it with scripts/image/prometheus-image.sh): %v\n%s", promImage, err, out)
	}
	models := modelDir(t, "dummy")
	grpcPort, restPort, promPort := freePort(t), freePort(t), freePort(t)
	project := fmt.Sprintf("ovmsmetrics%d", os.Getpid())
	env := []string{"OVMS_IMAGE=" + image, "OVMS_PROMETHEUS_IMAGE=" + promImage, "OVMS_MODELS=" + models,
		fmt.Sprintf("OVMS_GRPC_PORT=127.0.0.1:%d", grpcPort), fmt.Sprintf("OVMS_REST_PORT=127.0.0.1:%d", restPort),
		fmt.Sprintf("OVMS_PROMETHEUS_PORT=127.0.0.1:%d", promPort)}
	const file = "docker-compose.metrics.yml"
	upStack(t, project, file, env)
	if s := stackContainer(t, project, "ovms").inspect("{{.State.Health.Status}}"); s != "healthy" {
		t.Fatalf("ovms is %q after up -d returned (prometheus depends on it being healthy)", s)
	}
	prom := stackContainer(t, project, "prometheus")
	if s := prom.inspect("{{.State.Status}}"); s != "running" {
		t.Fatalf("prometheus is %s: %s", s, prom.logs())
	}

	const nREST, nGRPC = 7, 4
	for i := 0; i < nREST; i++ {
		if err := restInfer(t, restPort, "dummy"); err != nil {
			t.Fatal(err)
		}
	}
	conn := grpcConn(t, grpcPort)
	for i := 0; i < nGRPC; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := grpcInfer(ctx, conn, "dummy")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	for iface, want := range map[string]int{"REST": nREST, "gRPC": nGRPC} {
		q := fmt.Sprintf(`ovms_requests_success{job="ovms",api="KServe",interface=%q,method="ModelInfer",name="dummy",version="1"}`, iface)
		poll(t, 60*time.Second, "Prometheus has scraped the "+iface+" count", func() error {
			got, err := promQuery(promURL, q)
			if err != nil {
				return err
			}
			if len(got) != 1 {
				return fmt.Errorf("%s: %d series, want 1: %v", q, len(got), got)
			}
			if got[0] != float64(want) {
				return fmt.Errorf("%s = %v, want %d", q, got[0], want)
			}
			return nil
		})
	}
	t.Logf("Prometheus had the counts %s after the last request", time.Since(start).Round(time.Millisecond))

	var targets struct {
		Status string `json:"status"`
		Data   struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				ScrapeURL string            `json:"scrapeUrl"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/targets", &targets); err != nil {
		t.Fatal(err)
	}
	if len(targets.Data.ActiveTargets) != 1 {
		t.Fatalf("active targets: %+v, want the one ovms target", targets.Data.ActiveTargets)
	}
	if tg := targets.Data.ActiveTargets[0]; tg.Health != "up" || tg.Labels["job"] != "ovms" || tg.ScrapeURL != "http://ovms:8000/metrics" {
		t.Fatalf("target %+v: want job ovms, http://ovms:8000/metrics, up", tg)
	}

	// down removes the stack: nothing of the project is left.
	if out, err := compose(t, project, env, "-f", file, "down", "-v", "-t", "5"); err != nil {
		t.Fatal(err)
	} else if ids := mustDocker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project); ids != "" {
		t.Fatalf("containers left after docker-compose down: %s\n%s", ids, out)
	}
	if nets := mustDocker(t, "network", "ls", "-q", "--filter", "name="+project); nets != "" {
		t.Fatalf("networks left after docker-compose down: %s", nets)
	}
	if vols := mustDocker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+project); vols != "" {
		t.Fatalf("volumes left after docker-compose down: %s", vols)
	}
}

// promQuery runs an instant query on Prometheus's HTTP API and returns the
// values of the vector it answers.
func promQuery(promURL, query string) ([]float64, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/query?query="+url.QueryEscape(query), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" || r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: status %s, type %s: %s", query, r.Status, r.Data.ResultType, r.Error)
	}
	var vals []float64
	for _, s := range r.Data.Result {
		str, ok := s.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query %s: value %v", query, s.Value)
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", query, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// getJSON decodes the JSON answer of GET u (200 only).
func getJSON(u string, v any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w: %s", u, err, b)
	}
	return nil
}
