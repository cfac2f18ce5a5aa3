package onnxruntime

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "ortshim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	// LibraryName is the file name of the ONNX Runtime shared library.
	LibraryName = "libonnxruntime.so.1"
	// CacheVersion is the ONNX Runtime version that scripts/fetch-onnxruntime.sh
	// fetches into <repo>/.cache/onnxruntime/<CacheVersion>/.
	CacheVersion = "1.30.0"
	// RequestedAPIVersion is the newest OrtApi version asked for. An older
	// library (ONNX Runtime 1.N offers version N) gives its own version, at
	// least the lowest that has every function the binding needs; newer
	// functions are used only where that version has them (see APIVersion).
	RequestedAPIVersion = 30
)

var (
	loadMu     sync.Mutex
	loadedPath string      // guarded by loadMu
	loaded     atomic.Bool // set once the library and the API table are ready
	apiVersion uint32      // written once before loaded is set

	envMu sync.Mutex
	env   *C.OrtEnv // the process-wide environment, created lazily; never released
	// globalPools is what SetGlobalThreadPools asked for (nil: not called);
	// envPools says whether env was created with those pools. Both are
	// guarded by envMu, and neither changes once env exists.
	globalPools *GlobalThreadPools
	envPools    bool
)

// GlobalThreadPools configures the environment-level thread pools; must be
// called before the first session (the environment is created with them);
// an error after the environment exists. Sessions created with
// SessionOptions.UseGlobalThreadPools run on these pools instead of
// creating their own (ONNX Runtime's DisablePerSessionThreads); other
// sessions keep their own pools.
type GlobalThreadPools struct {
	// IntraOpThreads is the size of the shared intra-op pool, the thread
	// calling Run included (N makes N-1 pool threads); 0 lets ONNX Runtime
	// choose (one per physical core).
	IntraOpThreads int
	// InterOpThreads is the size of the shared inter-op pool, used by
	// sessions in ORT_PARALLEL mode; 0 lets ONNX Runtime choose, 1 creates
	// no thread.
	InterOpThreads int
	// Spinning lets idle pool threads spin before they sleep
	// (SetGlobalSpinControl). ONNX Runtime applies the session option
	// session.force_spinning_stop only to per-session pools (its
	// InferenceSession::Run controls spinning only when
	// use_per_session_threads is set), so with Spinning the shared threads
	// also spin after every run, between requests; without it they never
	// spin, not even between the operators of a run.
	Spinning bool
}

// SetGlobalThreadPools sets the environment-level thread pools that the
// process-wide environment is created with (see GlobalThreadPools). It may
// be called before Init, and again to change the setting, until the
// environment exists (the first NewSession, or another call that needs it);
// after that it fails.
func SetGlobalThreadPools(p GlobalThreadPools) error {
	if p.IntraOpThreads < 0 || p.InterOpThreads < 0 {
		return fmt.Errorf("onnxruntime: global thread pools: negative thread count (intra-op %d, inter-op %d)",
			p.IntraOpThreads, p.InterOpThreads)
	}
	envMu.Lock()
	defer envMu.Unlock()
	if env != nil {
		return errors.New("onnxruntime: global thread pools: the environment already exists (set them before the first session)")
	}
	globalPools = &p
	return nil
}

// GlobalThreadPoolsSet returns the environment-level thread pools set by
// SetGlobalThreadPools, and whether it was called.
func GlobalThreadPoolsSet() (GlobalThreadPools, bool) {
	envMu.Lock()
	defer envMu.Unlock()
	if globalPools == nil {
		return GlobalThreadPools{}, false
	}
	return *globalPools, true
}

// ErrNotInitialized is returned by calls that need the library before Init
// has succeeded.
var ErrNotInitialized = errors.New("onnxruntime: library not loaded: call Init first")

// FindLibrary returns the path of libonnxruntime.so.1. It tries, in order:
// $ORT_LIB when set (which must exist); libonnxruntime.so.1 beside the
// executable; ../lib/libonnxruntime.so.1 from the executable's directory;
// and .cache/onnxruntime/1.30.0/libonnxruntime.so.1 in the first directory
// holding a go.mod found walking up from the executable's directory and then
// from the working directory (where scripts/fetch-onnxruntime.sh puts it).
// The error names every place tried.
func FindLibrary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = ""
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = ""
	}
	return findLibrary(os.Getenv("ORT_LIB"), exe, wd)
}

func findLibrary(ortLib, exe, wd string) (string, error) {
	if ortLib != "" {
		if isFile(ortLib) {
			return ortLib, nil
		}
		return "", fmt.Errorf("onnxruntime: ORT_LIB=%s does not exist; run scripts/fetch-onnxruntime.sh or fix ORT_LIB", ortLib)
	}
	var tried []string
	try := func(p string) bool {
		tried = append(tried, p)
		return isFile(p)
	}
	var exeDir string
	if exe != "" {
		exeDir = filepath.Dir(exe)
		for _, p := range []string{
			filepath.Join(exeDir, LibraryName),
			filepath.Join(exeDir, "..", "lib", LibraryName),
		} {
			if try(p) {
				return p, nil
			}
		}
	}
	for _, start := range []string{exeDir, wd} {
		if start == "" {
			continue
		}
		if root := moduleRoot(start); root != "" {
			p := filepath.Join(root, ".cache", "onnxruntime", CacheVersion, LibraryName)
			if try(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("onnxruntime: %s not found (tried %s): run scripts/fetch-onnxruntime.sh or set ORT_LIB",
		LibraryName, strings.Join(tried, ", "))
}

// moduleRoot walks up from dir to the first directory containing go.mod.
func moduleRoot(dir string) string {
	for d := filepath.Clean(dir); ; {
		if isFile(filepath.Join(d, "go.mod")) {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Init loads the ONNX Runtime library at path with dlopen; an empty path
// means the library already loaded, or else FindLibrary(). It turns ONNX
// Runtime's telemetry off unless the environment says otherwise (see
// EnvDisableTelemetry). The library is
// loaded once per process and never unloaded: Init may be called again, also
// concurrently, with the same path (a no-op), but a later call naming
// another library fails. A failed Init may be retried.
func Init(path string) error {
	loadMu.Lock()
	defer loadMu.Unlock()
	if path == "" {
		if loaded.Load() {
			return nil
		}
		p, err := FindLibrary()
		if err != nil {
			return err
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("onnxruntime: load %s: %w", path, err)
	}
	if loaded.Load() {
		if abs != loadedPath {
			return fmt.Errorf("onnxruntime: already initialized with %s, cannot load %s", loadedPath, abs)
		}
		return nil
	}
	disableTelemetry()
	cpath := C.CString(abs)
	defer C.free(unsafe.Pointer(cpath))
	var got C.uint32_t
	var cerr *C.char
	if C.ortgo_load(cpath, RequestedAPIVersion, &got, &cerr) != 0 {
		return fmt.Errorf("onnxruntime: load %s: %s", abs, C.GoString(cerr))
	}
	if err := statusErr(C.ortgo_init_globals()); err != nil {
		return fmt.Errorf("onnxruntime: load %s: %w", abs, err)
	}
	apiVersion = uint32(got)
	loadedPath = abs
	loaded.Store(true)
	return nil
}

// ProviderDir returns the folder ONNX Runtime looks in for its shared
// provider libraries (libonnxruntime_providers_*.so): that of the loaded
// library with symbolic links resolved (./bin/libonnxruntime.so.1 links to
// the fetched library in .cache/), or "" before Init.
func ProviderDir() string {
	if !loaded.Load() {
		return ""
	}
	p, err := filepath.EvalSymlinks(loadedPath)
	if err != nil {
		p = loadedPath
	}
	return filepath.Dir(p)
}

// Version returns the version of the loaded ONNX Runtime library, such as
// "1.30.0", or "" before Init.
func Version() string {
	if !loaded.Load() {
		return ""
	}
	return C.GoString(C.ortgo_version_string())
}

// APIVersion returns the OrtApi version in use: RequestedAPIVersion, or the
// library's own version when it is older; 0 before Init.
func APIVersion() int {
	if !loaded.Load() {
		return 0
	}
	return int(apiVersion)
}

// getEnv returns the process-wide OrtEnv, creating it on first use with log
// level WARNING, the package's log handler (see SetLogHandler) and, when
// SetGlobalThreadPools was called, the global thread pools. pools reports
// whether the environment has them.
func getEnv() (e *C.OrtEnv, pools bool, err error) {
	if !loaded.Load() {
		return nil, false, ErrNotInitialized
	}
	envMu.Lock()
	defer envMu.Unlock()
	if env != nil {
		return env, envPools, nil
	}
	if logWriter == nil {
		if err := startLogPipe(); err != nil {
			return nil, false, fmt.Errorf("onnxruntime: create environment: %w", err)
		}
	}
	logid := C.CString("ovms")
	defer C.free(unsafe.Pointer(logid))
	defer removeNew(envLitter())()
	if p := globalPools; p != nil {
		spin := C.int(0)
		if p.Spinning {
			spin = 1
		}
		if err := statusErr(C.ortgo_create_env_global_pools(C.ORT_LOGGING_LEVEL_WARNING, logid,
			C.int(p.IntraOpThreads), C.int(p.InterOpThreads), spin, &e)); err != nil {
			return nil, false, fmt.Errorf("onnxruntime: create environment with global thread pools (intra-op %d, inter-op %d, spinning %t): %w",
				p.IntraOpThreads, p.InterOpThreads, p.Spinning, err)
		}
		env, envPools = e, true
		return env, true, nil
	}
	if err := statusErr(C.ortgo_create_env(C.ORT_LOGGING_LEVEL_WARNING, logid, &e)); err != nil {
		return nil, false, fmt.Errorf("onnxruntime: create environment: %w", err)
	}
	env = e
	return env, false, nil
}

// EnvDisableTelemetry is ONNX Runtime's switch for its telemetry. The
// onnxruntime-node build of 1.30 records events (the process's command line,
// the OS, a device id, every session created) in a SQLite database under
// $HOME/.cache/Microsoft/DeveloperTools/.onnxruntime and writes a session id
// and a debug log into the temporary folder; creating the environment with
// it on costs 10-25 ms of CPU on the 2-core development VM (about a third of
// the environment's creation). Init sets it to "1" when it is unset or
// empty, so a model server records nothing and writes nothing into the
// user's home; another value set in the environment (ORT_DISABLE_TELEMETRY=0
// turns the telemetry on) is left as it is.
const EnvDisableTelemetry = "ORT_DISABLE_TELEMETRY"

// TelemetryOffVariables returns the environment variables by which ONNX
// Runtime 1.30 (the onnxruntime-node build) detects a CI machine or its own
// unit tests and keeps its telemetry off whatever EnvDisableTelemetry says:
// any of them set to a non-empty value turns it off. Tests that show the
// telemetry's files remove them from a child's environment, so that they
// show the same thing on a CI machine as on a user's.
func TelemetryOffVariables() []string {
	return []string{
		"CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
		"CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
		"ORT_RUNNING_UNIT_TESTS",
	}
}

// disableTelemetry sets EnvDisableTelemetry to "1" unless it has a value. The
// library reads it from the C environment, which os.Setenv updates in a
// cgo binary.
func disableTelemetry() {
	if os.Getenv(EnvDisableTelemetry) == "" {
		_ = os.Setenv(EnvDisableTelemetry, "1")
	}
}

// envLitter are the files that creating an environment of ONNX Runtime 1.30
// (the onnxruntime-node build) writes into the temporary folder: a
// telemetry session id (.ses) and an empty debug log per process
// (mat-debug-PID.log). Every plugin process would leave its own behind.
func envLitter() []string {
	d := os.TempDir()
	return []string{filepath.Join(d, ".ses"), filepath.Join(d, fmt.Sprintf("mat-debug-%d.log", os.Getpid()))}
}

// removeNew notes which of paths do not exist yet and returns a func that
// removes those of them that exist by then: what a step created, never a
// file that was there before it.
func removeNew(paths []string) func() {
	var absent []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			absent = append(absent, p)
		}
	}
	return func() {
		for _, p := range absent {
			_ = os.Remove(p)
		}
	}
}
