package storageservers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/file"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/fileerror"
)

// sign sets r's Authorization header from the server's own string-to-sign
// (for raw requests in tests; the SDK signs its own).
func (s *AzureFiles) sign(r *http.Request) {
	r.Header.Set("Authorization", "SharedKey "+s.account+":"+s.mac(azStringToSign(r, s.account)))
}

// mac is the base64 HMAC-SHA256 of sts under the account key.
func (s *AzureFiles) mac(sts string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestAzureFilesStringToSign checks the string-to-sign of one request
// against the reference's layout, written out by hand: twelve standard
// fields (Content-Length empty for zero, Date empty beside x-ms-date),
// the x-ms- headers lowercased, sorted, whitespace folded, then the
// account, the path as encoded in the URI and the query parameters sorted,
// lowercased, decoded, multiple values sorted and joined.
func TestAzureFilesStringToSign(t *testing.T) {
	r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/ovmsfiles/share/dir%20a/f%2Bg?restype=directory&Comp=list&prefix=a%2Fb&include=Timestamps&include=Etag", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Ms-Version", "2026-06-06")
	r.Header.Set("x-ms-date", "Mon, 02 Jan 2006 15:04:05 GMT")
	r.Header["x-ms-meta-b"] = []string{"  two   words "}
	r.Header.Set("Date", "Tue, 03 Jan 2006 15:04:05 GMT")
	r.Header.Set("Content-Type", "application/xml")
	r.Header.Set("Content-Length", "0")
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("User-Agent", "not signed")
	want := "GET\n\n\n\n\napplication/xml\n\n\n\n\n\nbytes=0-9\n" +
		"x-ms-date:Mon, 02 Jan 2006 15:04:05 GMT\nx-ms-meta-b:two words\nx-ms-version:2026-06-06\n" +
		"/ovmsfiles/ovmsfiles/share/dir%20a/f%2Bg\ncomp:list\ninclude:Etag,Timestamps\nprefix:a/b\nrestype:directory"
	if got := azStringToSign(r, "ovmsfiles"); got != want {
		t.Errorf("string-to-sign\n%q\nwant\n%q", got, want)
	}
	r.Header.Del("x-ms-date")
	if got := azStringToSign(r, "ovmsfiles"); !strings.Contains(got, "application/xml\nTue, 03 Jan 2006 15:04:05 GMT\n") {
		t.Errorf("without x-ms-date the Date header is signed: %q", got)
	}
}

// TestAzureFilesSharedKey shows the server checks the signature of what
// the SDK sends: requests signed by the SDK with the account key pass; a
// wrong key, a request changed after signing, and a signature over a
// string-to-sign that differs from the documented one in any detail get
// 403 AuthenticationFailed; no credentials get 401, malformed ones 400.
func TestAzureFilesSharedKey(t *testing.T) {
	s := azureFilesForTest(t, AzureFilesOptions{})
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "sh"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"my dir/w.bin", "my dir/other.bin"} {
		if err := s.Put(ctx, "sh", k, []byte("0123456789abcdef")); err != nil {
			t.Fatal(err)
		}
	}

	// The right key passes; a wrong one does not (for listings, downloads
	// and properties: HEAD answers carry only x-ms-error-code).
	wrongKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 64)))
	if _, err := s.list(ctx, "sh", ""); err != nil {
		t.Fatalf("the SDK with the account key: %v", err)
	}
	bad := dirOf(s.shareClient(t, "sh", wrongKey, nil), "my dir")
	_, err := bad.NewListFilesAndDirectoriesPager(nil).NextPage(ctx)
	checkDenied(t, "list with a wrong key", err)
	_, err = bad.NewFileClient("w.bin").DownloadStream(ctx, nil)
	checkDenied(t, "get with a wrong key", err)
	_, err = bad.NewFileClient("w.bin").GetProperties(ctx, nil)
	checkDenied(t, "properties with a wrong key", err)

	// Record a ranged download signed by the SDK, then replay it.
	rec := &recorder{}
	f := dirOf(s.shareClient(t, "sh", "", rec), "my dir").NewFileClient("w.bin")
	resp, err := f.DownloadStream(ctx, &file.DownloadStreamOptions{Range: file.HTTPRange{Offset: 2, Count: 4}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	signed := rec.last()
	h := http.Header{} // the SDK sets some header keys in lowercase
	for k, vs := range signed.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	signed.Header = h
	if signed.Header.Get("x-ms-range") != "bytes=2-5" || !strings.HasPrefix(signed.Header.Get("Authorization"), "SharedKey ovmsfiles:") {
		t.Fatalf("recorded request: %v", signed.Header)
	}
	send := func(r *http.Request) (int, string, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("x-ms-error-code"), string(b)
	}
	replay := func(change func(r *http.Request)) (int, string, string) {
		t.Helper()
		r, err := http.NewRequest(signed.Method, signed.URL.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header = signed.Header.Clone()
		if change != nil {
			change(r)
		}
		return send(r)
	}
	if code, _, body := replay(nil); code != http.StatusPartialContent || body != "2345" {
		t.Fatalf("the SDK's request replayed: %d %q", code, body)
	}
	if code, _, _ := replay(func(r *http.Request) { r.Header.Set("User-Agent", "another client") }); code != http.StatusPartialContent {
		t.Errorf("a header outside the string-to-sign changed: %d, want 206", code)
	}
	tampered := map[string]func(r *http.Request){
		"x-ms-range": func(r *http.Request) { r.Header.Set("x-ms-range", "bytes=0-9") },
		"x-ms-date": func(r *http.Request) {
			r.Header.Set("x-ms-date", time.Now().UTC().Add(time.Second).Format(http.TimeFormat))
		},
		"an x-ms- header": func(r *http.Request) { r.Header.Set("x-ms-meta-extra", "1") },
		"a Range header":  func(r *http.Request) { r.Header.Set("Range", "bytes=0-1") },
		"the file": func(r *http.Request) {
			r.URL.Path = strings.Replace(r.URL.Path, "w.bin", "other.bin", 1)
			r.URL.RawPath = ""
		},
		"a query parameter": func(r *http.Request) { r.URL.RawQuery = "timeout=30" },
		"the signature": func(r *http.Request) {
			a := r.Header.Get("Authorization")
			i := strings.Index(a, ":") + 1
			c := byte('A')
			if a[i] == 'A' {
				c = 'B'
			}
			r.Header.Set("Authorization", a[:i]+string(c)+a[i+1:])
		},
		"the account": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "ovmsfiles:", "otheraccount:", 1))
		},
	}
	for what, change := range tampered {
		if code, ec, body := replay(change); code != http.StatusForbidden || ec != "AuthenticationFailed" || !strings.Contains(body, "<Code>AuthenticationFailed</Code>") {
			t.Errorf("%s changed after signing: %d %s %s", what, code, ec, body)
		}
	}

	// Signatures over a string-to-sign that is off in one detail.
	canonical := azStringToSign(mustReceived(t, signed), s.account)
	variants := map[string]string{
		"canonical":                      canonical,
		"verb in lowercase":              strings.Replace(canonical, "GET\n", "get\n", 1),
		"Content-Length 0":               strings.Replace(canonical, "GET\n\n\n\n", "GET\n\n\n0\n", 1),
		"headers unsorted":               reverseXMSHeaders(canonical),
		"path decoded":                   strings.Replace(canonical, "my%20dir", "my dir", 1),
		"account once":                   strings.Replace(canonical, "/ovmsfiles/ovmsfiles/", "/ovmsfiles/", 1),
		"no newline before the resource": strings.Replace(canonical, "\n/ovmsfiles/", "/ovmsfiles/", 1),
		"header names as sent":           strings.Replace(canonical, "x-ms-version:", "X-Ms-Version:", 1),
	}
	for what, sts := range variants {
		code, ec, body := replay(func(r *http.Request) { r.Header.Set("Authorization", "SharedKey ovmsfiles:"+s.mac(sts)) })
		if what == "canonical" {
			if code != http.StatusPartialContent {
				t.Errorf("signed by the server's own string-to-sign: %d %s", code, body)
			}
			continue
		}
		if code != http.StatusForbidden || ec != "AuthenticationFailed" || !strings.Contains(body, "Server used following string to sign") {
			t.Errorf("string-to-sign with %s: %d %s %s", what, code, ec, body)
		}
	}

	// A correct signature on a request dated 20 minutes ago.
	code, ec, _ := replay(func(r *http.Request) {
		r.Header.Set("x-ms-date", time.Now().UTC().Add(-20*time.Minute).Format(http.TimeFormat))
		s.sign(r)
	})
	if code != http.StatusForbidden || ec != "AuthenticationFailed" {
		t.Errorf("a request 20 minutes old: %d %s", code, ec)
	}
	if code, ec, _ := replay(func(r *http.Request) { r.Header.Del("Authorization") }); code != http.StatusUnauthorized || ec != "NoAuthenticationInformation" {
		t.Errorf("no Authorization: %d %s", code, ec)
	}
	if code, ec, _ := replay(func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }); code != http.StatusBadRequest || ec != "InvalidAuthenticationInfo" {
		t.Errorf("a Bearer token: %d %s", code, ec)
	}
	if code, ec, _ := replay(func(r *http.Request) { r.Header.Del("Authorization"); r.URL.RawQuery = "sv=2020-01-01&sig=abc" }); code != http.StatusForbidden || ec != "AuthenticationFailed" {
		t.Errorf("a SAS: %d %s", code, ec)
	}
	if code, ec, _ := replay(func(r *http.Request) { r.Header.Del("x-ms-version"); s.sign(r) }); code != http.StatusBadRequest || ec != "MissingRequiredHeader" {
		t.Errorf("no x-ms-version: %d %s", code, ec)
	}
}

// checkDenied checks err is the SDK's error for 403 AuthenticationFailed.
func checkDenied(t *testing.T, what string, err error) {
	t.Helper()
	var re *azcore.ResponseError
	if !fileerror.HasCode(err, fileerror.AuthenticationFailed) || !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("%s: %v, want 403 AuthenticationFailed", what, err)
	}
}

// mustReceived is r as the server receives it (RequestURI set).
func mustReceived(t *testing.T, r *http.Request) *http.Request {
	t.Helper()
	c := r.Clone(context.Background())
	c.RequestURI = r.URL.RequestURI()
	return c
}

// reverseXMSHeaders reverses the order of the canonicalized x-ms- header
// lines of sts.
func reverseXMSHeaders(sts string) string {
	lines := strings.Split(sts, "\n")
	var idx []int
	for i, l := range lines {
		if strings.HasPrefix(l, "x-ms-") {
			idx = append(idx, i)
		}
	}
	out := append([]string(nil), lines...)
	for k, i := range idx {
		out[i] = lines[idx[len(idx)-1-k]]
	}
	return strings.Join(out, "\n")
}
