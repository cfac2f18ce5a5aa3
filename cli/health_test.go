package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlagValue(t *testing.T) {
	args := []string{"/ovms/bin/ovms", "--model_name", "m", "--port", "9000", "-rest_port=8000", "--rest_bind_address", "0.0.0.0", "--port", "9100"}
	for name, want := range map[string]string{"port": "9100", "rest_port": "8000", "model_name": "m", "rest_bind_address": "0.0.0.0", "grpc_bind_address": ""} {
		if got := flagValue(args, name); got != want {
			t.Errorf("flagValue(%s) = %q, want %q", name, got, want)
		}
	}
	for bind, want := range map[string]string{"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "127.0.0.1", "10.1.2.3": "10.1.2.3", "[::1]": "::1"} {
		if got := probeAddress(bind); got != want {
			t.Errorf("probeAddress(%q) = %q, want %q", bind, got, want)
		}
	}
}

// TestHealthREST: exit 0 on 200 from /v2/health/ready, 1 on 503 and when
// nothing listens; --live asks /v2/health/live.
func TestHealthREST(t *testing.T) {
	status := map[string]int{"/v2/health/ready": http.StatusServiceUnavailable, "/v2/health/live": http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status[r.URL.Path])
	}))
	defer srv.Close()
	port := fmt.Sprint(srv.Listener.Addr().(*net.TCPAddr).Port)
	if code, _, stderr := runCLI("health", "--rest_port", port); code != ExitFailure || !strings.Contains(stderr, "503") {
		t.Fatalf("not ready: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, stderr := runCLI("health", "--rest_port", port, "--live"); code != ExitOK || !strings.Contains(stdout, "ok") {
		t.Fatalf("live: exit %d, %q %q", code, stdout, stderr)
	}
	status["/v2/health/ready"] = http.StatusOK
	if code, _, stderr := runCLI("health", "--rest_port", port); code != ExitOK {
		t.Fatalf("ready: exit %d, stderr %q", code, stderr)
	}
	srv.Close()
	if code, _, _ := runCLI("health", "--rest_port", port, "--timeout", "1s"); code != ExitFailure {
		t.Fatalf("nothing listening: exit %d, want 1", code)
	}
	if code, _, _ := runCLI("health", "extra"); code != ExitUsage {
		t.Fatalf("an argument: exit %d, want 64", code)
	}
}

// TestReadServerTLSFiles: the server's TLS flags, relative paths resolved
// against the server's working folder (read from /proc), none without
// --tls_cert.
func TestReadServerTLSFiles(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	got := readServerTLSFiles(os.Getpid(), []string{"ovms", "--tls_cert", "certs/tls.crt", "--tls_key=/abs/tls.key", "-tls_client_ca", "ca.pem"})
	want := serverTLSFiles{cert: filepath.Join(wd, "certs/tls.crt"), key: "/abs/tls.key", clientCA: filepath.Join(wd, "ca.pem")}
	if got == nil || *got != want {
		t.Fatalf("readServerTLSFiles = %+v, want %+v", got, want)
	}
	if got := readServerTLSFiles(os.Getpid(), []string{"ovms", "--rest_port", "8000"}); got != nil {
		t.Fatalf("without --tls_cert: %+v, want nil", got)
	}
}
