package storageservers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// The account of the Azure Files server and its key (base64 of 64 fixed
// bytes, the length of a real account key).
const (
	azFilesAccount = "ovmsfiles"
	azFilesKey     = "b3Ztcy10ZXN0LWF6dXJlLWZpbGVzLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NQ=="
	// azFilesPageSize is the most entries the service returns in one List
	// Directories and Files answer.
	azFilesPageSize = 5000
)

// AzureFilesOptions configure StartAzureFiles.
type AzureFilesOptions struct {
	// PageSize is the most entries one List Directories and Files answer
	// holds (default 5000, as the service); a small one makes clients
	// follow NextMarker.
	PageSize int
}

// AzureFiles is an Azure Files service on a loopback port: the FileREST
// read operations that the Azure file share SDK calls (List Directories and
// Files with marker paging, Get File with Range or x-ms-range, Get File
// Properties, Get Directory Properties, Get Share Properties) over an
// in-memory store, with Shared Key authorization checked on every request
// (azfiles_auth.go). Shares, folders and files are made with CreateBucket,
// MkDir and Put; the REST side is read-only. Requests are path-style:
// http://127.0.0.1:<port>/<account>/<share>/<path>.
//
// Azurite has no Azure Files service, which is why this server exists; it
// follows Microsoft's FileREST reference (error codes, XML shapes, headers)
// for what it implements and answers anything else with an error.
type AzureFiles struct {
	http     *httpServer
	host     string // 127.0.0.1:<port>
	account  string
	key      []byte
	pageSize int
	now      func() time.Time

	mu     sync.Mutex
	shares map[string]*azShare
	cuts   map[string]*azCut // by share/path
	reqs   []AzureFilesRequest
	serial int64 // request ids and ETags

	once     sync.Once
	closeErr error
}

// AzureFilesRequest is one request the server answered.
type AzureFilesRequest struct {
	Method string
	Path   string // share/path, decoded
	Query  string // the raw query
	Range  string // x-ms-range, else Range
	Status int
	Cut    bool // the connection was closed after part of the body (CutDownload)
}

// azShare is one file share: its folders ("" is the root) and files, by
// path.
type azShare struct {
	dirs  map[string]*azNode
	files map[string]*azNode
}

// azNode is a folder or a file.
type azNode struct {
	id      string
	data    []byte
	etag    string
	changed time.Time
}

// azCut makes Get File answers end early: after bytes of the body the
// connection is closed, times more times (negative: always); then runs
// after each cut, before the connection closes.
type azCut struct {
	after int64
	times int
	then  func()
}

// StartAzureFiles starts the Azure Files server on a free loopback port.
func StartAzureFiles(opts AzureFilesOptions) (*AzureFiles, error) {
	key, err := base64.StdEncoding.DecodeString(azFilesKey)
	if err != nil {
		return nil, fmt.Errorf("azure files server: %w", err)
	}
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("azure files server: %w", err)
	}
	s := &AzureFiles{
		host:     fmt.Sprintf("127.0.0.1:%d", port(ln)),
		account:  azFilesAccount,
		key:      key,
		pageSize: opts.PageSize,
		now:      time.Now,
		shares:   map[string]*azShare{},
		cuts:     map[string]*azCut{},
	}
	if s.pageSize <= 0 || s.pageSize > azFilesPageSize {
		s.pageSize = azFilesPageSize
	}
	s.http = serve(ln, s)
	return s, nil
}

// Scheme is "azfs".
func (s *AzureFiles) Scheme() string { return "azfs" }

// Endpoint is the account's file service URL, path-style.
func (s *AzureFiles) Endpoint() string { return "http://" + s.host + "/" + s.account }

// ConnectionString is a connection string with the account, its key and
// the file endpoint.
func (s *AzureFiles) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;FileEndpoint=%s;", s.account, azFilesKey, s.Endpoint())
}

// Account is the account name; Key is its base64 key.
func (s *AzureFiles) Account() string { return s.account }

// Key is the account key, base64.
func (s *AzureFiles) Key() string { return azFilesKey }

// Env holds AZURE_STORAGE_CONNECTION_STRING (see ConnectionString).
func (s *AzureFiles) Env() []string {
	return []string{"AZURE_STORAGE_CONNECTION_STRING=" + s.ConnectionString()}
}

// SharedKeyEnv holds the account-and-key settings instead of a connection
// string: AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, and
// AZURE_STORAGE_DOMAIN (127.0.0.1:<port>, which makes the URL path-style)
// with AZURE_STORAGE_PROTOCOL=http.
func (s *AzureFiles) SharedKeyEnv() []string {
	return []string{
		"AZURE_STORAGE_ACCOUNT=" + s.account,
		"AZURE_STORAGE_KEY=" + azFilesKey,
		"AZURE_STORAGE_DOMAIN=" + s.host,
		"AZURE_STORAGE_PROTOCOL=http",
	}
}

// CreateBucket creates the file share name.
func (s *AzureFiles) CreateBucket(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("azure files: invalid share name %q", name)
	}
	if _, ok := s.shares[name]; ok {
		return fmt.Errorf("azure files: share %s already exists", name)
	}
	sh := &azShare{dirs: map[string]*azNode{}, files: map[string]*azNode{}}
	sh.dirs[""] = s.newNode(nil)
	s.shares[name] = sh
	return nil
}

// MkDir creates the folder dir and the folders above it in share (an
// empty folder, which object stores cannot have).
func (s *AzureFiles) MkDir(share, dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shares[share]
	if !ok {
		return fmt.Errorf("azure files: no share %s", share)
	}
	return s.mkdirAll(sh, strings.Trim(dir, "/"))
}

// Put writes data as file key in share, creating its folders; a file
// already there is replaced (and gets a new ETag).
func (s *AzureFiles) Put(_ context.Context, share, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shares[share]
	if !ok {
		return fmt.Errorf("azure files put %s/%s: no such share", share, key)
	}
	key = strings.Trim(key, "/")
	if key == "" {
		return fmt.Errorf("azure files put %s: empty file name", share)
	}
	if _, ok := sh.dirs[key]; ok {
		return fmt.Errorf("azure files put %s/%s: a folder has that name", share, key)
	}
	if err := s.mkdirAll(sh, parentOf(key)); err != nil {
		return err
	}
	sh.files[key] = s.newNode(append([]byte(nil), data...))
	return nil
}

// PutFiles writes several files at once (by path), as Put does each: a
// listing sees all of them or none.
func (s *AzureFiles) PutFiles(share string, files map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shares[share]
	if !ok {
		return fmt.Errorf("azure files put %s: no such share", share)
	}
	for key, data := range files {
		key = strings.Trim(key, "/")
		if _, ok := sh.dirs[key]; ok || key == "" {
			return fmt.Errorf("azure files put %s/%s: not a file name", share, key)
		}
		if err := s.mkdirAll(sh, parentOf(key)); err != nil {
			return err
		}
		sh.files[key] = s.newNode(append([]byte(nil), data...))
	}
	return nil
}

// Delete removes every file whose path starts with prefix, and the folders
// whose path followed by "/" does.
func (s *AzureFiles) Delete(_ context.Context, share, prefix string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shares[share]
	if !ok {
		return fmt.Errorf("azure files delete %s/%s: no such share", share, prefix)
	}
	for k := range sh.files {
		if strings.HasPrefix(k, prefix) {
			delete(sh.files, k)
		}
	}
	for d := range sh.dirs {
		if d != "" && strings.HasPrefix(d+"/", prefix) {
			delete(sh.dirs, d)
		}
	}
	return nil
}

// CutDownload makes the next times Get File answers for key in share (all
// of them if times is negative) send their headers and the first after
// bytes of the body, then close the connection; then, if not nil, runs
// after each cut, before the connection closes. A later call replaces the
// earlier one; times 0 stops cutting.
func (s *AzureFiles) CutDownload(share, key string, after int64, times int, then func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := share + "/" + strings.Trim(key, "/")
	if times == 0 {
		delete(s.cuts, k)
		return
	}
	s.cuts[k] = &azCut{after: after, times: times, then: then}
}

// takeCut returns the cut for share/key if one is due, and counts it.
func (s *AzureFiles) takeCut(k string) *azCut {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cuts[k]
	if !ok {
		return nil
	}
	if c.times > 0 {
		c.times--
		if c.times == 0 {
			delete(s.cuts, k)
		}
	}
	return c
}

// Requests returns the requests answered so far, oldest first.
func (s *AzureFiles) Requests() []AzureFilesRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AzureFilesRequest(nil), s.reqs...)
}

// record adds a request to the log.
func (s *AzureFiles) record(r AzureFilesRequest) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// Close stops the server and closes its connections.
func (s *AzureFiles) Close() error {
	s.once.Do(func() { s.closeErr = s.http.closeNow() })
	return s.closeErr
}

// newNode makes a folder (data nil) or file with a fresh id and ETag.
// s.mu is held.
func (s *AzureFiles) newNode(data []byte) *azNode {
	s.serial++
	now := s.now().UTC()
	return &azNode{
		id:      fmt.Sprintf("%d", 13835128424026341376+uint64(s.serial)),
		data:    data,
		etag:    fmt.Sprintf("\"0x8DC%011X\"", now.UnixNano()/1000+s.serial),
		changed: now,
	}
}

// mkdirAll creates dir and its parents. s.mu is held.
func (s *AzureFiles) mkdirAll(sh *azShare, dir string) error {
	if dir == "" {
		return nil
	}
	if _, ok := sh.files[dir]; ok {
		return fmt.Errorf("azure files: %s is a file", dir)
	}
	if err := s.mkdirAll(sh, parentOf(dir)); err != nil {
		return err
	}
	if _, ok := sh.dirs[dir]; !ok {
		sh.dirs[dir] = s.newNode(nil)
	}
	return nil
}

// parentOf is the folder of p ("" for the root).
func parentOf(p string) string {
	d := path.Dir(p)
	if d == "." || d == "/" {
		return ""
	}
	return d
}

// azEntry is one listed child of a folder.
type azEntry struct {
	name string
	dir  bool
	size int64
}

// children lists the entries of folder dir of share whose names start with
// prefix, in name order. s.mu is held.
func (sh *azShare) children(dir, prefix string) []azEntry {
	var out []azEntry
	for d := range sh.dirs {
		if d != "" && parentOf(d) == dir && strings.HasPrefix(path.Base(d), prefix) {
			out = append(out, azEntry{name: path.Base(d), dir: true})
		}
	}
	for f, n := range sh.files {
		if parentOf(f) == dir && strings.HasPrefix(path.Base(f), prefix) {
			out = append(out, azEntry{name: path.Base(f), size: int64(len(n.data))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// errNoShare and errNoParent and errNoResource say why a path does not
// resolve.
var (
	errNoShare    = errors.New("ShareNotFound")
	errNoParent   = errors.New("ParentNotFound")
	errNoResource = errors.New("ResourceNotFound")
)

// lookup finds share/p: a folder when dir, else a file. Nodes are never
// changed once made (Put replaces them), so the caller may read them
// unlocked.
func (s *AzureFiles) lookup(share, p string, dir bool) (*azNode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(share, p, dir)
}

// lookupLocked is lookup with s.mu held.
func (s *AzureFiles) lookupLocked(share, p string, dir bool) (*azNode, error) {
	sh, ok := s.shares[share]
	if !ok {
		return nil, errNoShare
	}
	if _, ok := sh.dirs[parentOf(p)]; !ok && p != "" {
		return nil, errNoParent
	}
	var n *azNode
	if dir {
		n, ok = sh.dirs[p]
	} else {
		n, ok = sh.files[p]
	}
	if !ok {
		return nil, errNoResource
	}
	return n, nil
}

// listDir returns folder share/dir and its entries whose names start with
// prefix, in name order.
func (s *AzureFiles) listDir(share, dir, prefix string) (*azNode, []azEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookupLocked(share, dir, true)
	if err != nil {
		return nil, nil, err
	}
	return n, s.shares[share].children(dir, prefix), nil
}
