package storageservers

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// azFilesVersion is the x-ms-version the server answers with when a
// request names none.
const azFilesVersion = "2026-06-06"

// azMaxMD5Range is the largest range Get File returns an MD5 for.
const azMaxMD5Range = 4 << 20

// azError is an error answer: the HTTP status, the error code (header
// x-ms-error-code and the body's Code) and the message.
type azError struct {
	status int
	code   string
	msg    string
	detail string // AuthenticationErrorDetail, for authentication errors
}

// Standard answers of the reference's error code tables.
func errShareNotFound() *azError {
	return &azError{http.StatusNotFound, "ShareNotFound", "The specified share does not exist.", ""}
}

func errParentNotFound() *azError {
	return &azError{http.StatusNotFound, "ParentNotFound", "The specified parent path does not exist.", ""}
}

func errResourceNotFound() *azError {
	return &azError{http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist.", ""}
}

// notFound turns a lookup error into its answer.
func notFound(err error) *azError {
	switch {
	case errors.Is(err, errNoShare):
		return errShareNotFound()
	case errors.Is(err, errNoParent):
		return errParentNotFound()
	}
	return errResourceNotFound()
}

// ServeHTTP answers one FileREST request.
func (s *AzureFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.serial++
	rid := fmt.Sprintf("00000000-0000-4000-8000-%012x", s.serial)
	s.mu.Unlock()
	h := w.Header()
	h.Set("x-ms-request-id", rid)
	v := r.Header.Get("x-ms-version")
	if v == "" {
		v = azFilesVersion
	}
	h.Set("x-ms-version", v)
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	rec := &AzureFilesRequest{Method: r.Method, Query: r.URL.RawQuery, Range: requestRange(r)}
	// Recorded when the status is sent, before the body: a client that
	// has read the whole answer finds its request in the log.
	rw := &recordingWriter{ResponseWriter: w, record: func(status int) {
		rec.Status = status
		s.record(*rec)
	}}
	s.route(rw, r, rec, rid)
}

// recordingWriter calls record once, with the status, when the header is
// written.
type recordingWriter struct {
	http.ResponseWriter
	once   sync.Once
	record func(status int)
}

func (w *recordingWriter) WriteHeader(status int) {
	w.once.Do(func() { w.record(status) })
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { w.record(http.StatusOK) })
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the connection's writer (Flush).
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route checks the request and runs its operation; it returns the status
// sent.
func (s *AzureFiles) route(w http.ResponseWriter, r *http.Request, rec *AzureFilesRequest, rid string) int {
	if e := s.checkSharedKey(r); e != nil {
		return s.fail(w, r, rid, e)
	}
	if r.Header.Get("x-ms-version") == "" {
		return s.fail(w, r, rid, &azError{http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.", ""})
	}
	share, p, err := s.splitPath(r)
	rec.Path = strings.TrimSuffix(share+"/"+p, "/")
	if err != nil {
		return s.fail(w, r, rid, &azError{http.StatusBadRequest, "InvalidUri", "The requested URI does not represent any resource on the server.", ""})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return s.fail(w, r, rid, &azError{http.StatusMethodNotAllowed, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb (this test server is read-only).", ""})
	}
	q := r.URL.Query()
	restype, comp := q.Get("restype"), q.Get("comp")
	switch {
	case share == "":
		return s.fail(w, r, rid, &azError{http.StatusBadRequest, "InvalidUri", "Service operations are not implemented by this test server.", ""})
	case restype == "share" && comp == "" && p == "":
		return s.shareProperties(w, r, rid, share)
	case restype == "directory" && comp == "list":
		return s.listOp(w, r, rid, share, p, q)
	case restype == "directory" && comp == "":
		return s.directoryProperties(w, r, rid, share, p)
	case restype == "" && comp == "" && p != "":
		return s.getFile(w, r, rec, rid, share, p)
	}
	return s.fail(w, r, rid, &azError{http.StatusBadRequest, "UnsupportedQueryParameter", "One of the query parameters specified in the request URI is not supported (by this test server).", ""})
}

// splitPath takes the share and the path below it from the request's
// path, which starts with the account (path-style URLs).
func (s *AzureFiles) splitPath(r *http.Request) (share, p string, err error) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segs) == 0 || segs[0] != s.account {
		return "", "", errors.New("the path does not start with the account")
	}
	var parts []string
	for _, seg := range segs[1:] {
		if seg == "" {
			continue
		}
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", "", err
		}
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "", "", nil
	}
	return parts[0], strings.Join(parts[1:], "/"), nil
}

// shareProperties is Get Share Properties.
func (s *AzureFiles) shareProperties(w http.ResponseWriter, r *http.Request, rid, share string) int {
	n, err := s.lookup(share, "", true)
	if err != nil {
		return s.fail(w, r, rid, notFound(err))
	}
	h := w.Header()
	h.Set("ETag", n.etag)
	h.Set("Last-Modified", n.changed.Format(http.TimeFormat))
	h.Set("x-ms-share-quota", "5120")
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// directoryProperties is Get Directory Properties.
func (s *AzureFiles) directoryProperties(w http.ResponseWriter, r *http.Request, rid, share, p string) int {
	n, err := s.lookup(share, p, true)
	if err != nil {
		return s.fail(w, r, rid, notFound(err))
	}
	h := w.Header()
	h.Set("ETag", n.etag)
	h.Set("Last-Modified", n.changed.Format(http.TimeFormat))
	h.Set("x-ms-server-encrypted", "true")
	h.Set("x-ms-file-attributes", "Directory")
	h.Set("x-ms-file-id", n.id)
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// The XML answer of List Directories and Files.
type (
	azListResult struct {
		XMLName         xml.Name    `xml:"EnumerationResults"`
		ServiceEndpoint string      `xml:"ServiceEndpoint,attr"`
		ShareName       string      `xml:"ShareName,attr"`
		DirectoryPath   string      `xml:"DirectoryPath,attr"`
		Marker          string      `xml:"Marker,omitempty"`
		Prefix          string      `xml:"Prefix"`
		MaxResults      int         `xml:"MaxResults,omitempty"`
		DirectoryID     string      `xml:"DirectoryId"`
		Entries         azEntries   `xml:"Entries"`
		NextMarker      emptyString `xml:"NextMarker"`
	}
	// azEntries is the always present Entries element.
	azEntries struct {
		Items []azListed
	}
	// azListed is a <File> or <Directory>: the element name is set per entry.
	azListed struct {
		XMLName    xml.Name
		Name       string        `xml:"Name"`
		Properties *azListedProp `xml:"Properties"`
	}
	azListedProp struct {
		ContentLength *int64 `xml:"Content-Length"`
	}
	// emptyString is an element always written, empty or not.
	emptyString struct {
		Value string `xml:",chardata"`
	}
)

// listOp is List Directories and Files: one level, in name order, at most
// the page size (or maxresults) entries, and a NextMarker naming the first
// entry of the next page.
func (s *AzureFiles) listOp(w http.ResponseWriter, r *http.Request, rid, share, p string, q url.Values) int {
	max := s.pageSize
	if v := q.Get("maxresults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return s.fail(w, r, rid, &azError{http.StatusBadRequest, "OutOfRangeQueryParameterValue", "One of the query parameters specified in the request URI is outside the permissible range.", ""})
		}
		max = min(max, n)
	}
	start := ""
	if m := q.Get("marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return s.fail(w, r, rid, &azError{http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.", ""})
		}
		start = string(b)
	}
	dir, entries, err := s.listDir(share, p, q.Get("prefix"))
	if err != nil {
		return s.fail(w, r, rid, notFound(err))
	}
	res := azListResult{
		ServiceEndpoint: s.Endpoint() + "/",
		ShareName:       share,
		DirectoryPath:   p,
		Marker:          q.Get("marker"),
		Prefix:          q.Get("prefix"),
		DirectoryID:     dir.id,
	}
	if q.Get("maxresults") != "" {
		res.MaxResults = max
	}
	for _, e := range entries {
		if e.name < start {
			continue
		}
		if len(res.Entries.Items) == max {
			res.NextMarker.Value = base64.RawURLEncoding.EncodeToString([]byte(e.name))
			break
		}
		l := azListed{XMLName: xml.Name{Local: "File"}, Name: e.name}
		if e.dir {
			l.XMLName.Local = "Directory"
			l.Properties = &azListedProp{}
		} else {
			size := e.size
			l.Properties = &azListedProp{ContentLength: &size}
		}
		res.Entries.Items = append(res.Entries.Items, l)
	}
	body, err := xml.Marshal(res)
	if err != nil {
		return s.fail(w, r, rid, &azError{http.StatusInternalServerError, "InternalError", "The server encountered an internal error: " + err.Error(), ""})
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return http.StatusOK
}

// requestRange is the range a request asks for: x-ms-range if present,
// else Range.
func requestRange(r *http.Request) string {
	if v := r.Header.Get("x-ms-range"); v != "" {
		return v
	}
	return r.Header.Get("Range")
}

// parseRange reads "bytes=start-" or "bytes=start-end" for a file of size
// bytes; end is clipped to the file. ok is false for another form;
// satisfiable is false when start is past the end of the file.
func parseRange(v string, size int64) (start, end int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, false
	}
	end = size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false, false
		}
		end = min(end, e)
	}
	return start, end, true, start < size
}

// getFile is Get File (GET) and Get File Properties (HEAD).
func (s *AzureFiles) getFile(w http.ResponseWriter, r *http.Request, rec *AzureFilesRequest, rid, share, p string) int {
	n, err := s.lookup(share, p, false)
	if err != nil {
		return s.fail(w, r, rid, notFound(err))
	}
	size := int64(len(n.data))
	h := w.Header()
	h.Set("ETag", n.etag)
	h.Set("Last-Modified", n.changed.Format(http.TimeFormat))
	h.Set("x-ms-type", "File")
	h.Set("x-ms-server-encrypted", "true")
	h.Set("x-ms-file-id", n.id)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	}
	start, end, status := int64(0), size-1, http.StatusOK
	wantMD5 := r.Header.Get("x-ms-range-get-content-md5") == "true"
	if rg := requestRange(r); rg != "" {
		var ok, satisfiable bool
		start, end, ok, satisfiable = parseRange(rg, size)
		switch {
		case !ok:
			return s.fail(w, r, rid, &azError{http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", ""})
		case !satisfiable:
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return s.fail(w, r, rid, &azError{http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The range specified is invalid for the current size of the resource.", ""})
		}
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
		if wantMD5 && end-start+1 > azMaxMD5Range {
			return s.fail(w, r, rid, &azError{http.StatusBadRequest, "OutOfRangeInput", "The range for x-ms-range-get-content-md5 is over 4 MiB.", ""})
		}
	} else if wantMD5 {
		return s.fail(w, r, rid, &azError{http.StatusBadRequest, "InvalidHeaderValue", "x-ms-range-get-content-md5 needs a range.", ""})
	}
	body := n.data[start : end+1]
	if wantMD5 {
		sum := md5.Sum(body)
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if c := s.takeCut(share + "/" + p); c != nil {
		rec.Cut = true
		s.cutAnswer(w, status, body, c)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}

// cutAnswer sends the headers and the first c.after bytes of body, runs
// c.then and closes the connection (http.ErrAbortHandler makes the server
// drop it without logging).
func (s *AzureFiles) cutAnswer(w http.ResponseWriter, status int, body []byte, c *azCut) {
	w.WriteHeader(status)
	_, _ = w.Write(body[:min(int64(len(body)), max(c.after, 0))])
	_ = http.NewResponseController(w).Flush()
	if c.then != nil {
		c.then()
	}
	panic(http.ErrAbortHandler)
}

// fail sends an error answer: x-ms-error-code and, except for HEAD, the
// XML body of the reference (Code, Message with the request id and time,
// and AuthenticationErrorDetail for authentication errors).
func (s *AzureFiles) fail(w http.ResponseWriter, r *http.Request, rid string, e *azError) int {
	h := w.Header()
	h.Set("x-ms-error-code", e.code)
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `SharedKey realm="`+s.account+`"`)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return e.status
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Error><Code>")
	_ = xml.EscapeText(&b, []byte(e.code))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(fmt.Sprintf("%s\nRequestId:%s\nTime:%s", e.msg, rid, s.now().UTC().Format("2006-01-02T15:04:05.0000000Z"))))
	b.WriteString("</Message>")
	if e.detail != "" {
		b.WriteString("<AuthenticationErrorDetail>")
		_ = xml.EscapeText(&b, []byte(e.detail))
		b.WriteString("</AuthenticationErrorDetail>")
	}
	b.WriteString("</Error>")
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(b.String()))
	return e.status
}
