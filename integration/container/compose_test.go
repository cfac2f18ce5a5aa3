//go:build container

package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
