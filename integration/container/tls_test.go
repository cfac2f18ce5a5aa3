//go:build container

package container

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certAuthority is a CA made for one test.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var certSerial int64

func newAuthority(t *testing.T, name string) *certAuthority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &certAuthority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes NAME.crt and NAME.key into dir (readable by any uid): a
// server certificate for the DNS name ovms (serverAuth only) or a client one.
func (ca *certAuthority) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"ovms"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return certFile, keyFile
}

// TestHealthcheckTLS: the image's HEALTHCHECK, unchanged, turns healthy on
// a server with --tls_cert (it reads the server's command line and trusts
// the server's own certificate, which names no 127.0.0.1); with
// --tls_client_ca it does once the container's environment gives it a
// client certificate (OVMS_HEALTH_TLS_CLIENT_CERT/KEY) and fails without.
// The server answers HTTPS on the published port to a client trusting its CA.
func TestHealthcheckTLS(t *testing.T) {
	models := modelDir(t, "dummy")
	certs, err := os.MkdirTemp("", "ovms-container-certs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(certs) })
	if err := os.Chmod(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	serverCA, clientCA := newAuthority(t, "server-ca"), newAuthority(t, "client-ca")
	serverCA.issue(t, certs, "server", true)
	clientCA.issue(t, certs, "probe", false)
	writeFile(t, filepath.Join(certs, "clients.pem"), clientCA.pem)
	tlsArgs := []string{"--tls_cert", "/certs/server.crt", "--tls_key", "/certs/server.key"}
	serve := []string{"--model_name", "dummy", "--model_path", "/models/dummy", "--port", "9000", "--rest_port", "8000"}
	healthy := func(c *container) {
		t.Helper()
		poll(t, 90*time.Second, c.name+" healthy", func() error {
			if s := c.inspect("{{.State.Health.Status}}"); s != "healthy" {
				return fmt.Errorf("status %q", s)
			}
			return nil
		})
	}

	opts, _, restPort := publish(t)
	c := run(t, append(opts, "-v", models+":/models:ro", "-v", certs+":/certs:ro", "--read-only", "--tmpfs", "/tmp", "--health-interval", "2s"),
		append(serve, tlsArgs...)...)
	healthy(c)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(serverCA.pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "ovms"}}}
	resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/v2/health/ready", restPort))
	if err != nil {
		t.Fatalf("HTTPS to the published port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS ready: %s", resp.Status)
	}
	// Explicitly, over gRPC: the certificate (trusted as it is) and its name.
	if out, err := docker(t, "exec", c.name, "/ovms/bin/ovms", "health", "--port", "9000", "--tls_ca", "/certs/server.crt", "--tls_server_name", "ovms"); err != nil {
		t.Fatalf("gRPC health over TLS: %v %s", err, out)
	}
	if out, err := docker(t, "exec", c.name, "/ovms/bin/ovms", "health", "--port", "9000", "--tls_ca", "/certs/server.crt"); err == nil {
		t.Fatalf("gRPC health verifying name 127.0.0.1, which the certificate lacks, passed: %s", out)
	}
	if out, err := docker(t, "exec", c.name, "/ovms/bin/ovms", "health", "--port", "9000", "--insecure_skip_verify"); err != nil {
		t.Fatalf("gRPC health over TLS: %v %s", err, out)
	}

	// Mutual TLS: the probe's client certificate comes from the environment.
	mtls := append(append([]string{}, serve...), append(tlsArgs, "--tls_client_ca", "/certs/clients.pem")...)
	c2 := run(t, []string{"-v", models + ":/models:ro", "-v", certs + ":/certs:ro", "--health-interval", "2s",
		"-e", "OVMS_HEALTH_TLS_CLIENT_CERT=/certs/probe.crt", "-e", "OVMS_HEALTH_TLS_CLIENT_KEY=/certs/probe.key"}, mtls...)
	healthy(c2)
	// Without it, the probe presents the server's certificate, which the
	// client CA did not sign: refused.
	c3 := run(t, []string{"-v", models + ":/models:ro", "-v", certs + ":/certs:ro"}, mtls...)
	poll(t, 60*time.Second, "the server without a probe certificate is up", func() error {
		out, err := docker(t, "exec", c3.name, "/ovms/bin/ovms", "health", "--live", "--insecure_skip_verify",
			"--tls_client_cert", "/certs/probe.crt", "--tls_client_key", "/certs/probe.key")
		if err != nil {
			return fmt.Errorf("%v %s", err, out)
		}
		return nil
	})
	if out, err := docker(t, "exec", c3.name, "/ovms/bin/ovms", "health"); err == nil {
		t.Fatalf("mutual TLS without a client certificate for the probe: healthy: %s", out)
	}
}
