package storage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/integration/storageservers"
)

// startAzureFiles starts the Azure Files test server (the FileREST
// operations the SDK calls, Shared Key checked) with emulatorFiles in
// share "shr", and points the environment at it with a connection string.
func startAzureFiles(t *testing.T) *storageservers.AzureFiles {
	t.Helper()
	clearCloudEnv(t)
	srv, err := storageservers.StartAzureFiles(storageservers.AzureFilesOptions{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.CreateBucket(context.Background(), "shr"); err != nil {
		t.Fatal(err)
	}
	for k, v := range emulatorFiles {
		if err := srv.Put(context.Background(), "shr", k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", srv.ConnectionString())
	return srv
}

// TestAzfsStore lists, downloads and releases versions of an azfs://
// repository through the Azure file share SDK and the test server, with a
// connection string and with account and key, and checks the errors of a
// missing folder, a missing share and a wrong key.
func TestAzfsStore(t *testing.T) {
	srv := startAzureFiles(t)
	ctx := context.Background()
	check := func(t *testing.T) {
		files := roundTrip(t, "azfs://shr/models/m", t.TempDir())
		if len(files) != 3 || files["model.bin"] != emulatorFiles["models/m/2/model.bin"] || files["sub/vocab.txt"] != "a b c" || files["model.xml"] != "<xml/>" {
			t.Errorf("downloaded %v", keys(files))
		}
	}
	t.Run("connection string", check)
	t.Run("account and key", func(t *testing.T) {
		t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
		for _, kv := range srv.SharedKeyEnv() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		check(t)
	})

	missing, err := Open(ctx, "azfs://shr/models/nope", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = missing.Versions(ctx, nil)
	wantCode(t, err, apierr.PathInvalid, "azfs://shr/models/nope", `"models/nope/" does not exist`)
	missing.Close()

	noShare, err := Open(ctx, "azfs://no-such-share/models/m", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = noShare.Versions(ctx, nil)
	wantCode(t, err, apierr.PathInvalid, `share "no-such-share" does not exist`)
	noShare.Close()

	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", strings.Replace(srv.ConnectionString(), "AccountKey="+srv.Key(), "AccountKey="+strings.Repeat("QUJD", 22), 1))
	denied, err := Open(ctx, "azfs://shr/models/m", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = denied.Versions(ctx, nil)
	wantCode(t, err, errFilesystem, `access to share "shr" denied`, "AuthenticationFailed")
	if strings.Contains(err.Error(), srv.Key()) {
		t.Errorf("the error shows the key: %v", err)
	}
	denied.Close()
}

// TestAzfsDownloadResumes cuts the connection during a file's body: once
// (the download resumes where it stopped and the copy is whole), and once
// with the file replaced before the resumed read (the download fails
// rather than join two files' bytes, and nothing is left in the cache).
func TestAzfsDownloadResumes(t *testing.T) {
	srv := startAzureFiles(t)
	ctx := context.Background()
	const key = "models/m/2/model.bin"
	orig := []byte(emulatorFiles[key])

	cache := t.TempDir()
	repo, err := Open(ctx, "azfs://shr/models/m", cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	srv.CutDownload("shr", key, 1234, 1, nil)
	p, err := repo.Fetch(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, p)["model.bin"]; got != string(orig) {
		t.Errorf("model.bin after a cut: %d bytes, want the %d of the share", len(got), len(orig))
	}
	ranged := 0
	for _, r := range srv.Requests() {
		if r.Path == "shr/"+key && r.Range == "bytes=1234-" && r.Status == 206 {
			ranged++
		}
	}
	if ranged != 1 {
		t.Errorf("%d resumed reads from byte 1234, want 1: %+v", ranged, srv.Requests())
	}
	if err := repo.Release(2); err != nil {
		t.Fatal(err)
	}

	replaced := bytes.ToUpper(orig)
	srv.CutDownload("shr", key, 1234, 1, func() {
		if err := srv.Put(ctx, "shr", key, replaced); err != nil {
			t.Error(err)
		}
	})
	p, err = repo.Fetch(ctx, 2)
	if err == nil {
		got := readTree(t, p)["model.bin"]
		t.Fatalf("a file replaced mid-download was accepted: %d bytes, the first %d of the old file, then the new one's: %v",
			len(got), commonPrefixLen(got, string(orig)), got[1234:] == string(replaced[1234:]))
	}
	wantCode(t, err, errFilesystem, "models/m/2/model.bin", "changed while it was downloaded")
	if e := entries(t, filepath.Join(cache, cacheKey("azfs://shr/models/m"))); len(e) != 0 {
		t.Errorf("cache holds %v after the failed download", e)
	}
}

// commonPrefixLen counts the leading bytes a and b share.
func commonPrefixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestAzfsKindDenied: every 403 of the file service is access denied, not
// only a bad signature: a SAS without list or read permission gets
// AuthorizationPermissionMismatch, one for another IP
// AuthorizationSourceIPMismatch.
func TestAzfsKindDenied(t *testing.T) {
	for _, code := range []string{"AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch", "AuthorizationSourceIPMismatch", "InsufficientAccountPermissions"} {
		err := fmt.Errorf("listing: %w", &azcore.ResponseError{ErrorCode: code, StatusCode: http.StatusForbidden})
		if got := (&azfsStore{}).kind(err); got != errDenied {
			t.Errorf("%s: kind %v, want errDenied", code, got)
		}
	}
	if got := (&azfsStore{}).kind(&azcore.ResponseError{ErrorCode: "ResourceNotFound", StatusCode: http.StatusNotFound}); got != errPathMissing {
		t.Errorf("ResourceNotFound: kind %v, want errPathMissing", got)
	}
}
