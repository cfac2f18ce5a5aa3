package storage

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/ovmsgo/ovms/core/storage/internal/gcsjson"
)

// TestGCSCredentials checks the GOOGLE_APPLICATION_CREDENTIALS mode: the
// client reads the service account key through Application Default
// Credentials, gets a token from the key's token_uri with the read-only
// storage scope, and sends it with every JSON API request.
func TestGCSCredentials(t *testing.T) {
	clearCloudEnv(t)
	var tokens atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		parts := strings.Split(r.Form.Get("assertion"), ".")
		claims := []byte{}
		if len(parts) == 3 {
			claims, _ = base64.RawURLEncoding.DecodeString(parts[1])
		}
		if !strings.Contains(string(claims), `"scope":"https://www.googleapis.com/auth/devstorage.read_only"`) {
			t.Errorf("token request without the read-only scope: %s", claims)
			http.Error(w, "bad assertion", http.StatusBadRequest)
			return
		}
		tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"test-token-123","token_type":"Bearer","expires_in":3600}`))
	}))
	defer tokenSrv.Close()

	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, InitialObjects: []fakestorage.Object{
		{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: "models/m/1/model.onnx"}, Content: []byte("onnx")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	var unauthorised atomic.Int32
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-token-123" {
			unauthorised.Add(1)
			http.Error(w, `{"error":{"code":401,"message":"no token"}}`, http.StatusUnauthorized)
			return
		}
		fake.HTTPHandler().ServeHTTP(w, r)
	}))
	defer apiSrv.Close()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "ovms-test",
		"private_key_id": "k1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "ovms@ovms-test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      tokenSrv.URL + "/token",
	})
	keyFile := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(keyFile, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyFile)

	loc, _ := parseLocation("gs://bkt/models/m")
	s := gcsSettingsFrom(loc, os.Getenv)
	s.endpoint = apiSrv.URL + "/storage/v1/"
	svc, err := s.service(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	log, _ := testLog()
	repo := newRemote(&blobStore{b: gcsjson.OpenBucket(svc, s.bucket)}, loc, t.TempDir(), log)
	defer repo.Close()
	got, err := repo.Versions(context.Background(), nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("versions %v: %v", got, err)
	}
	p, err := repo.Fetch(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(p, "model.onnx")); string(b) != "onnx" {
		t.Errorf("downloaded %q", b)
	}
	if tokens.Load() == 0 || unauthorised.Load() != 0 {
		t.Errorf("%d tokens fetched, %d requests without the token", tokens.Load(), unauthorised.Load())
	}

	// A credentials file that does not exist fails at Open.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	_, err = Open(context.Background(), "gs://bkt/models/m", t.TempDir(), nil)
	wantCode(t, err, errFilesystem, "gs://bkt/models/m", "cannot configure the GCS client")
	if err != nil && !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("error does not name the file: %v", err)
	}
}
