package storageservers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// azMaxClockSkew is how far a request's date may be from the server's
// clock: the reference says a request must reach the service within 15
// minutes of its date.
const azMaxClockSkew = 15 * time.Minute

// checkSharedKey authorizes r with Shared Key, as the reference's
// "Authorize with Shared Key" describes for the Blob, Queue and File
// services (version 2009-09-19 and later): the Authorization header is
// "SharedKey <account>:<signature>", the signature the base64 HMAC-SHA256,
// under the account key, of the request's string-to-sign (azStringToSign).
// It returns nil when the request is authorized.
func (s *AzureFiles) checkSharedKey(r *http.Request) *azError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Get("sig") != "" {
			return authFailed("This test server accepts Shared Key only, not shared access signatures.")
		}
		return &azError{http.StatusUnauthorized, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.", ""}
	}
	scheme, cred, ok := strings.Cut(auth, " ")
	account, sig, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 || scheme != "SharedKey" {
		return &azError{http.StatusBadRequest, "InvalidAuthenticationInfo", "Authentication information is not given in the correct format. Check the value of Authorization header.", ""}
	}
	if account != s.account {
		return authFailed(fmt.Sprintf("The account %q in the Authorization header is not this service's account.", account))
	}
	date := r.Header.Get("x-ms-date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	if date == "" {
		return authFailed("Request date header not specified.")
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return authFailed(fmt.Sprintf("The date header %q is not in RFC 1123 format.", date))
	}
	if d := s.now().Sub(t); d > azMaxClockSkew || d < -azMaxClockSkew {
		return authFailed(fmt.Sprintf("Request date header too old: %q.", date))
	}
	sts := azStringToSign(r, s.account)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(sts))
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return authFailed(fmt.Sprintf("The MAC signature found in the HTTP request '%s' is not the same as any computed signature. Server used following string to sign: '%s'.", sig, sts))
	}
	return nil
}

// authFailed is the AuthenticationFailed answer (403) with detail.
func authFailed(detail string) *azError {
	return &azError{http.StatusForbidden, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.", detail}
}

// azStringToSign is the Shared Key string-to-sign of r for account:
//
//	VERB \n Content-Encoding \n Content-Language \n Content-Length \n
//	Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n
//	If-None-Match \n If-Unmodified-Since \n Range \n
//	CanonicalizedHeaders CanonicalizedResource
//
// Content-Length is empty when it is zero (version 2015-02-21 and later);
// Date is empty when x-ms-date is given (the service then ignores Date).
func azStringToSign(r *http.Request, account string) string {
	length := ""
	if r.ContentLength > 0 {
		length = strconv.FormatInt(r.ContentLength, 10)
	}
	date := r.Header.Get("Date")
	if r.Header.Get("x-ms-date") != "" {
		date = ""
	}
	h := r.Header.Get
	fields := []string{
		r.Method,
		h("Content-Encoding"),
		h("Content-Language"),
		length,
		h("Content-MD5"),
		h("Content-Type"),
		date,
		h("If-Modified-Since"),
		h("If-Match"),
		h("If-None-Match"),
		h("If-Unmodified-Since"),
		h("Range"),
	}
	return strings.Join(fields, "\n") + "\n" + azCanonicalizedHeaders(r.Header) + azCanonicalizedResource(r, account)
}

// azCanonicalizedHeaders lists the x-ms- headers: names in lowercase,
// sorted by name, each "name:value\n", the value trimmed, its runs of
// whitespace replaced by one space, several values of one header joined
// with commas.
func azCanonicalizedHeaders(h http.Header) string {
	vals := map[string][]string{}
	for k, vs := range h {
		name := strings.ToLower(strings.TrimSpace(k))
		if !strings.HasPrefix(name, "x-ms-") {
			continue
		}
		for _, v := range vs {
			vals[name] = append(vals[name], strings.Join(strings.Fields(v), " "))
		}
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals[k], ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// azCanonicalizedResource is "/" + account + the request's path, encoded
// exactly as in the request URI, then for each query parameter, sorted by
// name: "\n" + lowercase name + ":" + the decoded values, sorted and
// joined with commas.
func azCanonicalizedResource(r *http.Request, account string) string {
	raw := r.URL.EscapedPath() // a request being sent (tests sign those)
	if r.RequestURI != "" {    // a request received: the path as sent
		raw, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if i := strings.Index(raw, "://"); i >= 0 { // absolute form
		raw = raw[i+3:]
		if j := strings.IndexByte(raw, '/'); j >= 0 {
			raw = raw[j:]
		} else {
			raw = "/"
		}
	}
	if raw == "" {
		raw = "/"
	}
	var b strings.Builder
	b.WriteString("/" + account + raw)
	q, _ := url.ParseQuery(r.URL.RawQuery)
	params := map[string][]string{}
	for k, vs := range q {
		k = strings.ToLower(k)
		params[k] = append(params[k], vs...)
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vs := params[k]
		sort.Strings(vs)
		b.WriteString("\n" + k + ":" + strings.Join(vs, ","))
	}
	return b.String()
}
