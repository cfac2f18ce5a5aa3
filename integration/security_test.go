package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

var serial int64 = 1

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue signs a leaf certificate: a server one for 127.0.0.1 and
// localhost, or a client one. It returns the PEM certificate and key.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	if server {
		return ca.sign(t, name, true, x509.ExtKeyUsageServerAuth)
	}
	return ca.sign(t, name, false, x509.ExtKeyUsageClientAuth)
}

// sign signs a leaf certificate for usages, naming 127.0.0.1 and localhost
// when hosts is set. It returns the PEM certificate and key.
func (ca *testCA) sign(t *testing.T, name string, hosts bool, usages ...x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages,
	}
	if hosts {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// clientTLS is a client configuration trusting ca, with a client
// certificate when certPEM is given.
func clientTLS(t *testing.T, ca *testCA, certPEM, keyPEM []byte) *tls.Config {
	t.Helper()
	c := &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

func httpsClient(c *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: c, DisableKeepAlives: true}}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsFiles writes a server certificate and key signed by ca into dir.
func tlsFiles(t *testing.T, dir string, ca *testCA) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	c, k := ca.issue(t, "ovms", true)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)
	return certFile, keyFile
}

// startTLS starts ovms serving dummy with args, waits until it answers
// over HTTPS with ready (a client configuration it accepts), and dials
// its gRPC port with the same configuration.
func startTLS(t *testing.T, ready *tls.Config, args ...string) *server {
	t.Helper()
	s := launch(t, nil, append([]string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy")}, args...)...)
	s.scheme, s.httpc = "https", httpsClient(ready)
	s.waitReady()
	s.conn = dialTLS(t, s, ready)
	return s
}

func dialTLS(t *testing.T, s *server, c *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.grpcAddr(), grpc.WithTransportCredentials(credentials.NewTLS(c)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

const inferBody = `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`

func inferRequest() *kpb.ModelInferRequest {
	return &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		RawInputContents: [][]byte{f32bytes(seq(10, 1)...)}}
}

// restInfer posts an inference over c and returns the status and body, or
// the transport error.
func restInfer(s *server, c *http.Client, header ...string) (int, string, error) {
	return restDo(s, c, http.MethodPost, "/v2/models/dummy/infer", inferBody, header...)
}

func restDo(s *server, c *http.Client, method, path, body string, header ...string) (int, string, error) {
	req, err := http.NewRequest(method, s.url(path), strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// grpcInfer runs one ModelInfer on a new connection with c.
func grpcInfer(t *testing.T, s *server, c *tls.Config) error {
	t.Helper()
	conn := dialTLS(t, s, c)
	defer conn.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := kpb.NewGRPCInferenceServiceClient(conn).ModelInfer(cctx, inferRequest())
	return err
}

// TestTLSBothAPIs: with --tls_cert and --tls_key both ports speak TLS
// with that certificate; plain-text clients and clients that do not trust
// the certificate's CA are refused; curl works with --cacert.
func TestTLSBothAPIs(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "ovms test CA")
	cert, key := tlsFiles(t, dir, ca)
	good := clientTLS(t, ca, nil, nil)
	s := startTLS(t, good, "--tls_cert", cert, "--tls_key", key)

	if code, body, err := restInfer(s, httpsClient(good)); err != nil || code != 200 || !strings.Contains(body, `"model_name": "dummy"`) {
		t.Fatalf("REST infer over TLS: %d %s %v", code, body, err)
	}
	resp, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), inferRequest())
	if err != nil || !equal(f32s(resp.RawOutputContents[0]), seq(10, 2)) {
		t.Fatalf("gRPC infer over TLS: %v %v", resp, err)
	}
	// REST is HTTP/1.1 over TLS, as over plain TCP.
	if r, err := httpsClient(good).Get(s.url("/v2/health/live")); err != nil || r.Proto != "HTTP/1.1" || r.TLS == nil {
		t.Errorf("REST over TLS: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	// Plain text is refused on both ports.
	plainURL := strings.Replace(s.url("/v2/health/live"), "https://", "http://", 1)
	if code, body := get(t, plainURL); code != 400 || !strings.Contains(body, "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP on the TLS port: %d %s", code, body)
	}
	pconn, err := grpc.NewClient(s.grpcAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := kpb.NewGRPCInferenceServiceClient(pconn).ServerLive(short, &kpb.ServerLiveRequest{}); err == nil {
		t.Errorf("plain-text gRPC on the TLS port succeeded")
	}

	// A client that trusts another CA refuses the server's certificate.
	other := clientTLS(t, newCA(t, "another CA"), nil, nil)
	if _, _, err := restInfer(s, httpsClient(other)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("REST with an untrusted server certificate: %v", err)
	}
	if err := grpcInfer(t, s, other); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC with an untrusted server certificate: %v", err)
	}

	// curl, a real client.
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	out, err := exec.Command("curl", "-sS", "--cacert", caFile, "-H", "Content-Type: application/json", "-d", inferBody, s.url("/v2/models/dummy/infer")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"model_name": "dummy"`) {
		t.Errorf("curl --cacert: %v %s", err, out)
	}
}

// TestMutualTLS: with --tls_client_ca a client must present a certificate
// signed by that CA, on both ports.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, strangerCA := newCA(t, "server CA"), newCA(t, "client CA"), newCA(t, "stranger CA")
	cert, key := tlsFiles(t, dir, serverCA)
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, clientCA.pem)
	cc, ck := clientCA.issue(t, "alice", false)
	good := clientTLS(t, serverCA, cc, ck)
	s := startTLS(t, good, "--tls_cert", cert, "--tls_key", key, "--tls_client_ca", caFile)

	if code, body, err := restInfer(s, httpsClient(good)); err != nil || code != 200 {
		t.Fatalf("REST infer with a client certificate: %d %s %v", code, body, err)
	}
	if err := grpcInfer(t, s, good); err != nil {
		t.Fatalf("gRPC infer with a client certificate: %v", err)
	}

	sc, sk := strangerCA.issue(t, "mallory", false)
	ec, ek := serverCA.issue(t, "eve", false)
	for name, c := range map[string]*tls.Config{
		"no client certificate":          clientTLS(t, serverCA, nil, nil),
		"certificate of another CA":      clientTLS(t, serverCA, sc, sk),
		"server CA's certificate as own": clientTLS(t, serverCA, ec, ek),
	} {
		t.Run(name, func(t *testing.T) {
			if code, body, err := restInfer(s, httpsClient(c)); err == nil {
				t.Errorf("REST accepted it: %d %s", code, body)
			}
			// Health too: mutual TLS guards the whole port.
			if code, _, err := restDo(s, httpsClient(c), http.MethodGet, "/v2/health/live", ""); err == nil {
				t.Errorf("REST health accepted it: %d", code)
			}
			if err := grpcInfer(t, s, c); status.Code(err) != codes.Unavailable {
				t.Errorf("gRPC: %v, want Unavailable (handshake refused)", err)
			}
		})
	}

	// curl with and without a client certificate.
	files := map[string][]byte{"ca.pem": serverCA.pem, "alice.crt": cc, "alice.key": ck}
	for n, b := range files {
		writeFile(t, filepath.Join(dir, n), b)
	}
	out, err := exec.Command("curl", "-sS", "--cacert", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "alice.crt"),
		"--key", filepath.Join(dir, "alice.key"), s.url("/v2/models/dummy")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"name":"dummy"`) {
		t.Errorf("curl with a client certificate: %v %s", err, out)
	}
	if out, err := exec.Command("curl", "-sS", "--cacert", filepath.Join(dir, "ca.pem"), s.url("/v2/models/dummy")).CombinedOutput(); err == nil {
		t.Errorf("curl without a client certificate succeeded: %s", out)
	}
}

// TestTLSCertificateRotation: rewriting the certificate files swaps the
// certificate (and the client CA) without a restart; a bad file keeps the
// one in use and logs an error.
func TestTLSCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	caA, caB := newCA(t, "CA A"), newCA(t, "CA B")
	clientsA, clientsB := newCA(t, "clients A"), newCA(t, "clients B")
	cert, key := tlsFiles(t, dir, caA)
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, clientsA.pem)
	acert, akey := clientsA.issue(t, "a", false)
	bcert, bkey := clientsB.issue(t, "b", false)
	oldClient := clientTLS(t, caA, acert, akey)
	newClient := clientTLS(t, caB, bcert, bkey)
	s := startTLS(t, oldClient, "--tls_cert", cert, "--tls_key", key, "--tls_client_ca", caFile)

	// A bad certificate file: the old certificate stays, an error is logged.
	writeFile(t, cert, []byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"))
	waitFor(t, 10*time.Second, "an error about the bad certificate", func() bool {
		return strings.Contains(s.log(), "new TLS certificate not loaded; keeping the one in use")
	})
	if code, _, err := restInfer(s, httpsClient(oldClient)); err != nil || code != 200 {
		t.Fatalf("REST after a bad certificate file: %d %v", code, err)
	}
	if err := grpcInfer(t, s, oldClient); err != nil {
		t.Fatalf("gRPC after a bad certificate file: %v", err)
	}

	// New certificate, key and client CA: new connections get them.
	c, k := caB.issue(t, "ovms-2", true)
	writeFile(t, cert, c)
	writeFile(t, key, k)
	writeFile(t, caFile, clientsB.pem)
	waitFor(t, 10*time.Second, "the new certificate in use", func() bool {
		code, _, err := restInfer(s, httpsClient(newClient))
		return err == nil && code == 200
	})
	if err := grpcInfer(t, s, newClient); err != nil {
		t.Errorf("gRPC with the new certificate: %v", err)
	}
	if _, _, err := restInfer(s, httpsClient(oldClient)); err == nil {
		t.Errorf("REST still serves the old certificate or takes the old client CA")
	}
	// The old client trusting the new server CA is refused for its
	// certificate of the old client CA.
	if err := grpcInfer(t, s, clientTLS(t, caB, acert, akey)); err == nil {
		t.Errorf("gRPC took a client certificate of the replaced client CA")
	}
	if !strings.Contains(s.log(), "TLS certificate reloaded") {
		t.Errorf("no reload logged:\n%s", s.log())
	}
	s.alive()
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keyCall is a gRPC context carrying an API key ("" for none).
func keyCall(t *testing.T, key string) context.Context {
	c := ctx(t)
	if key == "" {
		return c
	}
	return metadata.AppendToOutgoingContext(c, "authorization", "Bearer "+key)
}

// TestAPIKeys: inference and control endpoints take their own keys over
// REST and gRPC; health stays open; a missing and a wrong key get the same
// answer; the key files are reloaded when rewritten.
func TestAPIKeys(t *testing.T) {
	dir := t.TempDir()
	infFile, ctlFile := filepath.Join(dir, "inference.keys"), filepath.Join(dir, "control.keys")
	writeFile(t, infFile, []byte("# inference clients\ninf-key-1\n\n  inf-key-2  \n"))
	writeFile(t, ctlFile, []byte("# operators\nctl-key\n"))
	s := startServer(t, "dummy", "--api_key_file", infFile, "--control_api_key_file", ctlFile, "--allow_client_shm")
	const unauth = `{"error":"Unauthenticated: a valid API key is required"}`
	const denied = `{"error":"Permission denied: this API key is not allowed to use this endpoint"}`
	c := &http.Client{Timeout: 10 * time.Second}
	bearer := func(k string) []string {
		if k == "" {
			return nil
		}
		return []string{"Authorization", "Bearer " + k}
	}

	t.Run("REST", func(t *testing.T) {
		for _, p := range []string{"/v2/health/live", "/v2/health/ready"} {
			if code, body, err := restDo(s, c, http.MethodGet, p, ""); err != nil || code != 200 {
				t.Errorf("GET %s without a key: %d %s %v", p, code, body, err)
			}
		}
		for _, tc := range []struct {
			method, path, body, key string
			code                    int
			want                    string
		}{
			{"POST", "/v2/models/dummy/infer", inferBody, "", 401, unauth},
			{"POST", "/v2/models/dummy/infer", inferBody, "wrong", 401, unauth},
			{"POST", "/v2/models/dummy/infer", inferBody, "inf-key-1x", 401, unauth},
			{"POST", "/v2/models/dummy/infer", inferBody, "inf-key-1", 200, ""},
			{"POST", "/v2/models/dummy/infer", inferBody, "inf-key-2", 200, ""},
			{"POST", "/v2/models/dummy/infer", inferBody, "ctl-key", 200, ""},
			{"POST", "/v1/models/dummy:predict", `{"instances":[[1,2,3,4,5,6,7,8,9,10]]}`, "", 401, unauth},
			{"POST", "/v1/models/dummy:predict", `{"instances":[[1,2,3,4,5,6,7,8,9,10]]}`, "inf-key-1", 200, ""},
			{"GET", "/v1/models/dummy", "", "", 401, unauth},
			{"GET", "/v2/models/dummy", "", "", 401, unauth},
			{"GET", "/v2/models/dummy/ready", "", "", 401, unauth},
			{"GET", "/v2", "", "inf-key-2", 200, ""},
			{"POST", "/v2/repository/index", "", "inf-key-1", 200, ""},
			{"POST", "/v2/repository/models/dummy/unload", "", "", 401, unauth},
			{"POST", "/v2/repository/models/dummy/unload", "", "wrong", 401, unauth},
			{"POST", "/v2/repository/models/dummy/unload", "", "inf-key-1", 403, denied},
			{"POST", "/v1/config/reload", "", "inf-key-1", 403, denied},
			{"GET", "/v2/systemsharedmemory/status", "", "inf-key-1", 403, denied},
			{"POST", "/v2/systemsharedmemory/region/r/register", `{"key":"/x","offset":0,"byte_size":8}`, "inf-key-2", 403, denied},
			{"GET", "/v2/systemsharedmemory/status", "", "ctl-key", 200, "[]"},
			{"POST", "/v2/repository/models/dummy/unload", "", "ctl-key", 200, ""},
			{"POST", "/v2/repository/models/dummy/load", "", "ctl-key", 200, ""},
		} {
			code, body, err := restDo(s, c, tc.method, tc.path, tc.body, bearer(tc.key)...)
			if err != nil || code != tc.code || (tc.want != "" && body != tc.want) {
				t.Errorf("%s %s key %q: %d %s %v; want %d %s", tc.method, tc.path, tc.key, code, body, err, tc.code, tc.want)
			}
		}
		// 401 says how to authenticate (RFC 6750); the scheme is
		// case-insensitive.
		req, _ := http.NewRequest(http.MethodGet, s.url("/v2/models/dummy"), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("WWW-Authenticate %q", got)
		}
		if code, _, _ := restDo(s, c, http.MethodGet, "/v2/models/dummy", "", "Authorization", "bearer inf-key-1"); code != 200 {
			t.Errorf("lower-case scheme: %d", code)
		}
		if code, _, _ := restDo(s, c, http.MethodGet, "/v2/models/dummy", "", "Authorization", "Basic inf-key-1"); code != 401 {
			t.Errorf("Basic scheme: %d", code)
		}
		// curl, a real client.
		out, err := exec.Command("curl", "-sS", "-H", "Authorization: Bearer inf-key-1", "-d", inferBody, s.url("/v2/models/dummy/infer")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"model_name": "dummy"`) {
			t.Errorf("curl with a key: %v %s", err, out)
		}
	})

	t.Run("gRPC", func(t *testing.T) {
		kc := kpb.NewGRPCInferenceServiceClient(s.conn)
		if h, err := healthpb.NewHealthClient(s.conn).Check(ctx(t), &healthpb.HealthCheckRequest{}); err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health without a key: %v %v", h, err)
		}
		if _, err := kc.ServerLive(ctx(t), &kpb.ServerLiveRequest{}); err != nil {
			t.Errorf("ServerLive without a key: %v", err)
		}
		if _, err := kc.ServerReady(ctx(t), &kpb.ServerReadyRequest{}); err != nil {
			t.Errorf("ServerReady without a key: %v", err)
		}
		check := func(what, key string, err error, want codes.Code) {
			t.Helper()
			st := status.Convert(err)
			if st.Code() != want {
				t.Errorf("%s key %q: %v, want %v", what, key, err, want)
			}
			switch want {
			case codes.Unauthenticated:
				if st.Message() != "Unauthenticated: a valid API key is required" {
					t.Errorf("%s key %q: message %q", what, key, st.Message())
				}
			case codes.PermissionDenied:
				if st.Message() != "Permission denied: this API key is not allowed to use this endpoint" {
					t.Errorf("%s key %q: message %q", what, key, st.Message())
				}
			}
		}
		for key, want := range map[string]codes.Code{"": codes.Unauthenticated, "wrong": codes.Unauthenticated, "inf-key-1": codes.OK, "ctl-key": codes.OK} {
			_, err := kc.ModelInfer(keyCall(t, key), inferRequest())
			check("ModelInfer", key, err, want)
			_, err = kc.ModelMetadata(keyCall(t, key), &kpb.ModelMetadataRequest{Name: "dummy"})
			check("ModelMetadata", key, err, want)
			// A stream is checked on its headers too.
			st, err := kc.ModelStreamInfer(keyCall(t, key))
			if err == nil {
				if err = st.Send(inferRequest()); err == nil {
					var r *kpb.ModelStreamInferResponse
					if r, err = st.Recv(); err == nil && r.ErrorMessage != "" {
						err = fmt.Errorf("stream error %s", r.ErrorMessage)
					}
				}
				_ = st.CloseSend()
			}
			check("ModelStreamInfer", key, err, want)
		}
		for key, want := range map[string]codes.Code{"": codes.Unauthenticated, "wrong": codes.Unauthenticated, "inf-key-2": codes.PermissionDenied} {
			_, err := kc.RepositoryModelUnload(keyCall(t, key), &kpb.RepositoryModelUnloadRequest{ModelName: "dummy"})
			check("RepositoryModelUnload", key, err, want)
			_, err = kc.SystemSharedMemoryStatus(keyCall(t, key), &kpb.SystemSharedMemoryStatusRequest{})
			check("SystemSharedMemoryStatus", key, err, want)
		}
		if _, err := kc.SystemSharedMemoryStatus(keyCall(t, "ctl-key"), &kpb.SystemSharedMemoryStatusRequest{}); err != nil {
			t.Errorf("SystemSharedMemoryStatus with the control key: %v", err)
		}
		if _, err := kc.RepositoryModelUnload(keyCall(t, "ctl-key"), &kpb.RepositoryModelUnloadRequest{ModelName: "dummy"}); err != nil {
			t.Errorf("RepositoryModelUnload with the control key: %v", err)
		}
		if _, err := kc.RepositoryModelLoad(keyCall(t, "ctl-key"), &kpb.RepositoryModelLoadRequest{ModelName: "dummy"}); err != nil {
			t.Errorf("RepositoryModelLoad with the control key: %v", err)
		}
	})

	t.Run("reload", func(t *testing.T) {
		// Replace inf-key-1 with inf-key-3; a file without keys is refused
		// (the keys in force stay).
		writeFile(t, infFile, []byte("# emptied\n"))
		waitFor(t, 10*time.Second, "an error about the key file", func() bool {
			return strings.Contains(s.log(), "new API key file not loaded; keeping the one in use")
		})
		if code, _, _ := restInfer(s, c, bearer("inf-key-1")...); code != 200 {
			t.Errorf("inf-key-1 after an empty key file: %d", code)
		}
		writeFile(t, infFile, []byte("inf-key-3\n"))
		waitFor(t, 10*time.Second, "the new key in force", func() bool {
			code, _, _ := restInfer(s, c, bearer("inf-key-3")...)
			return code == 200
		})
		if code, body, _ := restInfer(s, c, bearer("inf-key-1")...); code != 401 || body != unauth {
			t.Errorf("revoked inf-key-1: %d %s", code, body)
		}
		_, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(keyCall(t, "inf-key-1"), inferRequest())
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("gRPC revoked inf-key-1: %v", err)
		}
		if _, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(keyCall(t, "inf-key-3"), inferRequest()); err != nil {
			t.Errorf("gRPC inf-key-3: %v", err)
		}
	})
}

// TestAPIKeysAndTLSTogether: keys over TLS with a client certificate; the
// one key file, without a control file, guards control endpoints too.
func TestAPIKeysAndTLSTogether(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	cert, key := tlsFiles(t, dir, ca)
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, ca.pem)
	keys := filepath.Join(dir, "keys")
	writeFile(t, keys, []byte("only-key\n"))
	cc, ck := ca.issue(t, "client", false)
	good := clientTLS(t, ca, cc, ck)
	s := startTLS(t, good, "--tls_cert", cert, "--tls_key", key, "--tls_client_ca", caFile, "--api_key_file", keys)
	c := httpsClient(good)
	if code, _, err := restInfer(s, c); err != nil || code != 401 {
		t.Errorf("no key over mTLS: %d %v", code, err)
	}
	if code, _, err := restInfer(s, c, "Authorization", "Bearer only-key"); err != nil || code != 200 {
		t.Errorf("key over mTLS: %d %v", code, err)
	}
	if code, body, err := restDo(s, c, http.MethodPost, "/v2/repository/models/dummy/unload", "", "Authorization", "Bearer only-key"); err != nil || code != 200 {
		t.Errorf("control endpoint with the only key: %d %s %v", code, body, err)
	}
	if code, _, err := restDo(s, c, http.MethodPost, "/v2/repository/models/dummy/load", ""); err != nil || code != 401 {
		t.Errorf("control endpoint without a key: %d %v", code, err)
	}
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	if _, err := kc.RepositoryModelLoad(keyCall(t, "only-key"), &kpb.RepositoryModelLoadRequest{ModelName: "dummy"}); err != nil {
		t.Errorf("gRPC control with the only key: %v", err)
	}
	if _, err := kc.ModelInfer(keyCall(t, "only-key"), inferRequest()); err != nil {
		t.Errorf("gRPC infer with the key over mTLS: %v", err)
	}
	if _, err := kc.ModelInfer(ctx(t), inferRequest()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC infer without a key over mTLS: %v", err)
	}
}

// TestSecurityFlagErrors: TLS flags that do not come together are usage
// errors (exit 64); files that do not load stop the start (exit 1) with a
// message naming the file.
func TestSecurityFlagErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	cert, key := tlsFiles(t, dir, ca)
	empty := filepath.Join(dir, "empty.keys")
	writeFile(t, empty, []byte("# nothing\n"))
	model := []string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--port", fmt.Sprint(freePort(t)),
		"--rest_port", fmt.Sprint(freePort(t)), "--grpc_bind_address", "127.0.0.1", "--rest_bind_address", "127.0.0.1"}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls_cert", cert}, 64, "tls_cert and tls_key must be given together"},
		{[]string{"--tls_key", key}, 64, "tls_cert and tls_key must be given together"},
		{[]string{"--tls_client_ca", cert}, 64, "tls_client_ca needs tls_cert and tls_key"},
		{[]string{"--tls_cert", key, "--tls_key", key}, 1, "TLS certificate: certificate and key:"},
		{[]string{"--tls_cert", cert, "--tls_key", key, "--tls_client_ca", key}, 1, "client CA: no PEM certificate found"},
		{[]string{"--tls_cert", filepath.Join(dir, "missing.crt"), "--tls_key", key}, 1, "missing.crt: no such file or directory"},
		{[]string{"--api_key_file", empty}, 1, "--api_key_file: API key file: no API key in the file"},
		{[]string{"--control_api_key_file", filepath.Join(dir, "nope")}, 1, "--control_api_key_file: control API key file: reading"},
	} {
		code, _, stderr := runOVMS(t, append(append([]string{}, model...), c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
