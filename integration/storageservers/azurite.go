package storageservers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

const (
	// azuriteVersion is the npm version of azurite StartAzurite installs.
	azuriteVersion = "3.37.0"
	// Azurite's well-known development account.
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

	azuriteInstallTimeout = 5 * time.Minute
	azuriteStartTimeout   = 60 * time.Second
	azuriteStopTimeout    = 5 * time.Second
)

// errPortTaken is why a start is tried again on another port.
var errPortTaken = errors.New("port taken")

type azuriteServer struct {
	cmd      *exec.Cmd
	out      *limitedBuffer
	exited   chan struct{} // closed when cmd.Wait returns
	waitErr  error
	workDir  string
	connStr  string
	client   *azblob.Client
	once     sync.Once
	closeErr error
}

// StartAzurite runs the azurite-blob server from npm in its own process
// (installing azurite@3.37.0 into <repo>/.cache/azurite with npm on first
// use, offline if already there), on a free loopback port, in-memory
// (--inMemoryPersistence), with --skipApiVersionCheck and --loose; it waits
// until the port answers and Close kills the process (and its children).
//
// The package lives in <repoRoot>/.cache/azurite/3.37.0/node_modules; once
// it is there neither npm nor the network is used, only node (which must be
// on PATH). The first install takes 20 to 45 s (npm's own cache is preferred
// to the registry); a start then takes 1 to 2 s.
// Concurrent first uses each install into a temporary folder and the first
// to finish is renamed into place.
func StartAzurite(repoRoot string) (Server, error) {
	if repoRoot == "" {
		return nil, errors.New("azurite: empty repository root")
	}
	script, err := installAzurite(repoRoot)
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("azurite: node is needed to run azurite: %w", err)
	}
	var errs []error
	for range 3 { // a free port may be taken before azurite binds it
		s, err := startAzurite(node, script)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// installAzurite makes sure azurite is installed under repoRoot/.cache and
// returns the path of the azurite-blob script.
func installAzurite(repoRoot string) (string, error) {
	base := filepath.Join(repoRoot, ".cache", "azurite")
	dir := filepath.Join(base, azuriteVersion)
	if script, ok := azuriteInstalled(dir); ok {
		return script, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("azurite: npm is needed to install azurite@%s into %s: %w", azuriteVersion, dir, err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("azurite: %w", err)
	}
	tmp, err := os.MkdirTemp(base, ".install-"+azuriteVersion+"-")
	if err != nil {
		return "", fmt.Errorf("azurite: %w", err)
	}
	defer os.RemoveAll(tmp) // left over only when the rename did not happen

	ctx, cancel := context.WithTimeout(context.Background(), azuriteInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp,
		"--prefer-offline", "--no-audit", "--no-fund", "--no-update-notifier",
		"--loglevel=error", "azurite@"+azuriteVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("azurite: npm install azurite@%s: %w\n%s", azuriteVersion, err, out)
	}
	if _, ok := azuriteInstalled(tmp); !ok {
		return "", fmt.Errorf("azurite: npm install azurite@%s left no azurite-blob in %s", azuriteVersion, tmp)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		return "", fmt.Errorf("azurite: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have installed it meanwhile (a rename is
		// atomic, so dir is whole), or dir is a broken install: replace it.
		if script, ok := azuriteInstalled(dir); ok {
			return script, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("azurite: remove broken install: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return "", fmt.Errorf("azurite: %w", err)
		}
	}
	script, ok := azuriteInstalled(dir)
	if !ok {
		return "", fmt.Errorf("azurite: no azurite-blob in %s after install", dir)
	}
	return script, nil
}

// azuriteInstalled reports whether dir holds azurite at azuriteVersion, and
// the path of its azurite-blob script.
func azuriteInstalled(dir string) (string, bool) {
	pkgDir := filepath.Join(dir, "node_modules", "azurite")
	data, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return "", false
	}
	var pkg struct {
		Version string            `json:"version"`
		Bin     map[string]string `json:"bin"`
	}
	if json.Unmarshal(data, &pkg) != nil || pkg.Version != azuriteVersion || pkg.Bin["azurite-blob"] == "" {
		return "", false
	}
	script := filepath.Join(pkgDir, filepath.FromSlash(pkg.Bin["azurite-blob"]))
	if fi, err := os.Stat(script); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return script, true
}

// startAzurite runs one azurite-blob on a free port and waits until it answers.
func startAzurite(node, script string) (*azuriteServer, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	p := port(ln)
	ln.Close()

	work, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	s := &azuriteServer{
		out:     &limitedBuffer{max: 64 << 10},
		exited:  make(chan struct{}),
		workDir: work,
		connStr: fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;",
			azuriteAccount, azuriteKey, p, azuriteAccount),
	}
	s.cmd = exec.Command(node, script,
		"--blobHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(p),
		"--inMemoryPersistence",
		"--skipApiVersionCheck",
		"--loose",
		"--disableTelemetry",
		"--silent",
	)
	s.cmd.Dir = work // --location may not go with --inMemoryPersistence
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	s.cmd.WaitDelay = azuriteStopTimeout
	setProcessGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("azurite: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(fmt.Sprintf("http://127.0.0.1:%d/%s?comp=list", p, azuriteAccount)); err != nil {
		s.Close()
		return nil, err
	}
	s.client, err = azblob.NewClientFromConnectionString(s.connStr, nil)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("azurite client: %w", err)
	}
	return s, nil
}

// waitReady polls url until Azurite answers it (any HTTP status, from a
// server that says it is Azurite), the process exits or the time is up.
func (s *azuriteServer) waitReady(url string) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(azuriteStartTimeout)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if strings.HasPrefix(resp.Header.Get("Server"), "Azurite-Blob") {
				hc.CloseIdleConnections()
				return nil
			}
			return fmt.Errorf("azurite: %s is answered by another server (%q): %w", url, resp.Header.Get("Server"), errPortTaken)
		}
		select {
		case <-s.exited:
			out := s.out.String()
			if strings.Contains(out, "EADDRINUSE") {
				return fmt.Errorf("azurite exited: %w:\n%s", errPortTaken, out)
			}
			return fmt.Errorf("azurite exited before answering (%v):\n%s", s.waitErr, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("azurite did not answer %s within %s:\n%s", url, azuriteStartTimeout, s.out.String())
		}
	}
}

// Scheme is "az".
func (s *azuriteServer) Scheme() string { return "az" }

// Env holds AZURE_STORAGE_CONNECTION_STRING (the development account, blob
// endpoint http://127.0.0.1:<port>/devstoreaccount1).
func (s *azuriteServer) Env() []string {
	return []string{"AZURE_STORAGE_CONNECTION_STRING=" + s.connStr}
}

// CreateBucket creates the container.
func (s *azuriteServer) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.client.CreateContainer(ctx, name, nil); err != nil {
		return fmt.Errorf("azurite create container %s: %w", name, err)
	}
	return nil
}

// Put uploads data as blob key in the container bucket.
func (s *azuriteServer) Put(ctx context.Context, bucket, key string, data []byte) error {
	if _, err := s.client.UploadBuffer(ctx, bucket, key, data, nil); err != nil {
		return fmt.Errorf("azurite put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes every blob under prefix.
func (s *azuriteServer) Delete(ctx context.Context, bucket, prefix string) error {
	keys, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := s.client.DeleteBlob(ctx, bucket, k, nil); err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
			return fmt.Errorf("azurite delete %s/%s: %w", bucket, k, err)
		}
	}
	return nil
}

// list returns the blob names under prefix.
func (s *azuriteServer) list(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	pager := s.client.NewListBlobsFlatPager(bucket, &azblob.ListBlobsFlatOptions{Prefix: to.Ptr(prefix)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("azurite list %s/%s: %w", bucket, prefix, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name != nil {
				keys = append(keys, *b.Name)
			}
		}
	}
	return keys, nil
}

// get downloads bucket/key.
func (s *azuriteServer) get(ctx context.Context, bucket, key string) ([]byte, error) {
	resp, err := s.client.DownloadStream(ctx, bucket, key, nil)
	if err != nil {
		return nil, fmt.Errorf("azurite get %s/%s: %w", bucket, key, err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Close stops azurite: SIGTERM to its process group, SIGKILL after a few
// seconds, and removes its working folder.
func (s *azuriteServer) Close() error {
	s.once.Do(func() {
		select {
		case <-s.exited:
		default:
			terminate(s.cmd)
			select {
			case <-s.exited:
			case <-time.After(azuriteStopTimeout):
				kill(s.cmd)
				<-s.exited
			}
		}
		killGroup(s.cmd) // whatever azurite left behind in its group
		s.closeErr = os.RemoveAll(s.workDir)
	})
	return s.closeErr
}

// limitedBuffer keeps the first max bytes written to it, for error messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
