package integration

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// health runs `ovms health args...` (the real binary) with env added and
// returns its exit code and combined output.
func health(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ovms"), append([]string{"health", "--timeout", "5s"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("ovms health: %v\n%s", err, out)
	return 0, ""
}

// wantHealth runs ovms health and checks its exit code and that its output
// holds every string of want.
func wantHealth(t *testing.T, code int, env []string, args []string, want ...string) {
	t.Helper()
	got, out := health(t, env, args...)
	if got != code {
		t.Errorf("ovms health %s (env %v): exit %d, want %d\n%s", strings.Join(args, " "), env, got, code, out)
		return
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("ovms health %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
		}
	}
}

// issueBoth signs a certificate for 127.0.0.1 and localhost usable both to
// serve and as a client certificate.
func (ca *testCA) issueBoth(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.sign(t, name, true, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
}

// TestHealthTLS: `ovms health` against the real server serving TLS (with
// API keys, which the health endpoints do not need): plain text is refused
// with a hint; --tls_ca (and a name the certificate has) verifies over REST
// and gRPC; an unknown CA, a wrong name and the system's roots fail;
// --insecure_skip_verify does not check. Without port flags it reads the
// server's command line (--pid): TLS and the certificate come from there,
// and a certificate other than the server's --tls_cert fails.
func TestHealthTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "ovms-test-ca"), newCA(t, "other-ca")
	certFile, keyFile := tlsFiles(t, dir, ca)
	caFile, otherFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem")
	writeFile(t, caFile, ca.pem)
	writeFile(t, otherFile, other.pem)
	keys := filepath.Join(dir, "keys")
	writeFile(t, keys, []byte("s3cr3t-inference-key\n"))
	s := startTLS(t, clientTLS(t, ca, nil, nil), "--tls_cert", certFile, "--tls_key", keyFile, "--api_key_file", keys)
	rest, grpcp := fmt.Sprint(s.restPort), fmt.Sprint(s.grpcPort)

	wantHealth(t, 1, nil, []string{"--rest_port", rest}, "400", "the server speaks TLS")
	wantHealth(t, 0, nil, []string{"--rest_port", rest, "--tls_ca", caFile}, "ok")
	wantHealth(t, 0, nil, []string{"--rest_port", rest, "--tls", "--tls_ca", caFile, "--live"}, "ok")
	wantHealth(t, 0, []string{"OVMS_HEALTH_TLS_CA=" + caFile}, []string{"--rest_port", rest}, "ok")
	wantHealth(t, 0, nil, []string{"--rest_port", rest, "--address", "localhost", "--tls_ca", caFile}, "ok")
	wantHealth(t, 1, nil, []string{"--rest_port", rest, "--tls_ca", otherFile}, "certificate signed by unknown authority")
	wantHealth(t, 1, nil, []string{"--rest_port", rest, "--tls"}, "certificate signed by unknown authority")
	wantHealth(t, 1, nil, []string{"--rest_port", rest, "--tls_ca", caFile, "--tls_server_name", "ovms.example"}, "ovms.example")
	wantHealth(t, 0, nil, []string{"--rest_port", rest, "--insecure_skip_verify"}, "ok")
	wantHealth(t, 0, nil, []string{"--port", grpcp, "--tls_ca", caFile}, "ok")
	wantHealth(t, 1, nil, []string{"--port", grpcp, "--tls_ca", otherFile}, "certificate signed by unknown authority")
	wantHealth(t, 1, nil, []string{"--port", grpcp})
	wantHealth(t, 64, nil, []string{"--rest_port", rest, "--tls_client_cert", certFile}, "tls_client_cert and tls_client_key must be given together")

	// From the server's command line: TLS, the port and the certificate pinned.
	pid := fmt.Sprint(s.cmd.Process.Pid)
	wantHealth(t, 0, nil, []string{"--pid", pid}, "ok")
	wantHealth(t, 0, nil, []string{"--pid", pid, "--live"}, "ok")

	// A process whose command line names the server's REST port but another
	// certificate: what the port serves is not that certificate, so it fails.
	decoyCert, decoyKey := filepath.Join(dir, "decoy.crt"), filepath.Join(dir, "decoy.key")
	c, k := ca.issue(t, "decoy", true)
	writeFile(t, decoyCert, c)
	writeFile(t, decoyKey, k)
	decoy := exec.Command("bash", "-c", "sleep 60; true", "ovms", "--rest_port", rest, "--rest_bind_address", "127.0.0.1",
		"--tls_cert", decoyCert, "--tls_key", decoyKey)
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = decoy.Process.Kill(); _ = decoy.Wait() })
	wantHealth(t, 1, nil, []string{"--pid", fmt.Sprint(decoy.Process.Pid)}, "is not the one in "+decoyCert)
	// ... unless verified by the CA instead.
	wantHealth(t, 0, []string{"OVMS_HEALTH_TLS_CA=" + caFile}, []string{"--pid", fmt.Sprint(decoy.Process.Pid)}, "ok")
}

// TestHealthMutualTLS: with --tls_client_ca the probe needs a client
// certificate: refused without one; accepted with --tls_client_cert and
// --tls_client_key (or OVMS_HEALTH_TLS_CLIENT_CERT/KEY in the environment,
// which an image's HEALTHCHECK inherits). Reading the server's command line,
// it presents the server's own certificate, which a server accepts when its
// client CA signed it for client authentication too, and refuses otherwise.
func TestHealthMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := newCA(t, "server-ca"), newCA(t, "client-ca")
	certFile, keyFile := tlsFiles(t, dir, serverCA) // server authentication only
	caFile, clientCAFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, serverCA.pem)
	writeFile(t, clientCAFile, clientCA.pem)
	ccert, ckey := clientCA.issue(t, "probe", false)
	clientCert, clientKey := filepath.Join(dir, "probe.crt"), filepath.Join(dir, "probe.key")
	writeFile(t, clientCert, ccert)
	writeFile(t, clientKey, ckey)
	s := startTLS(t, clientTLS(t, serverCA, ccert, ckey), "--tls_cert", certFile, "--tls_key", keyFile, "--tls_client_ca", clientCAFile)
	rest, grpcp, pid := fmt.Sprint(s.restPort), fmt.Sprint(s.grpcPort), fmt.Sprint(s.cmd.Process.Pid)
	mtls := []string{"--tls_ca", caFile, "--tls_client_cert", clientCert, "--tls_client_key", clientKey}

	wantHealth(t, 0, nil, append([]string{"--rest_port", rest}, mtls...), "ok")
	wantHealth(t, 0, nil, append([]string{"--port", grpcp}, mtls...), "ok")
	wantHealth(t, 1, nil, []string{"--rest_port", rest, "--tls_ca", caFile})
	wantHealth(t, 1, nil, []string{"--port", grpcp, "--tls_ca", caFile})
	env := []string{"OVMS_HEALTH_TLS_CLIENT_CERT=" + clientCert, "OVMS_HEALTH_TLS_CLIENT_KEY=" + clientKey}
	wantHealth(t, 0, env, []string{"--pid", pid}, "ok")
	// The server's own certificate is not a client certificate of clientCA.
	wantHealth(t, 1, nil, []string{"--pid", pid})

	// One CA for both, the server's certificate good for both usages: the
	// probe needs nothing but the server's command line.
	both := newCA(t, "one-ca")
	c, k := both.issueBoth(t, "ovms")
	cert2, key2, ca2 := filepath.Join(dir, "both.crt"), filepath.Join(dir, "both.key"), filepath.Join(dir, "one-ca.pem")
	writeFile(t, cert2, c)
	writeFile(t, key2, k)
	writeFile(t, ca2, both.pem)
	s2 := startTLS(t, clientTLS(t, both, c, k), "--tls_cert", cert2, "--tls_key", key2, "--tls_client_ca", ca2)
	wantHealth(t, 0, nil, []string{"--pid", fmt.Sprint(s2.cmd.Process.Pid)}, "ok")
	wantHealth(t, 1, nil, []string{"--rest_port", fmt.Sprint(s2.restPort), "--tls_ca", ca2})
}
