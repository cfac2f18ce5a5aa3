package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// shmPath makes a /dev/shm name for this test and removes it afterwards.
func shmPath(t *testing.T, what string) (key, path string) {
	t.Helper()
	key = fmt.Sprintf("ovms-it-%d-%s-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"), what)
	path = filepath.Join("/dev/shm", key)
	_ = os.RemoveAll(path)
	t.Cleanup(func() { _ = os.RemoveAll(path) })
	return key, path
}

// TestClientShmRefusesAnythingButItsOwnFiles: a key must name a regular
// file in /dev/shm owned by the server's uid. Symlinks (to a file, to
// another region, dangling, to a FIFO or a directory), FIFOs, directories,
// another uid's files and missing keys all get Triton's one answer for a
// key it cannot open, which names neither the target nor its size. Before:
// a link to /etc/shadow registered (200) and a byte size past its end was
// answered with "exceed the 631 bytes".
func TestClientShmRefusesAnythingButItsOwnFiles(t *testing.T) {
	s := startServer(t, "dummy", "--allow_client_shm")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	own, _ := clientRegion(t, 4096)

	refused := map[string]string{} // what -> key
	add := func(what string, make func(path string) error) {
		key, path := shmPath(t, what)
		if err := make(path); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		refused[what] = key
	}
	add("link-to-shadow", func(p string) error { return os.Symlink("/etc/shadow", p) })
	add("link-to-passwd", func(p string) error { return os.Symlink("/etc/passwd", p) })
	add("link-to-own-region", func(p string) error { return os.Symlink(filepath.Join("/dev/shm", own), p) })
	add("dangling-link", func(p string) error { return os.Symlink("/dev/shm/ovms-it-nothing-here", p) })
	_, fifo := shmPath(t, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	refused["fifo"] = filepath.Base(fifo)
	add("link-to-fifo", func(p string) error { return os.Symlink(fifo, p) })
	_, dir := shmPath(t, "dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	refused["dir"] = filepath.Base(dir)
	add("link-to-dir", func(p string) error { return os.Symlink(dir, p) })
	add("other-owner", func(p string) error {
		if err := os.WriteFile(p, make([]byte, 4096), 0o666); err != nil {
			return err
		}
		return os.Chown(p, 12345, 12345)
	})
	refused["missing"] = fmt.Sprintf("ovms-it-%d-missing", os.Getpid())

	for what, key := range refused {
		for _, size := range []uint64{16, 1 << 40} {
			start := time.Now()
			_, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "x", Key: key, ByteSize: size})
			want := "Unable to open shared memory region: '" + key + "'"
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != want {
				t.Errorf("gRPC register %s (byte size %d): %v, want Internal %q", what, size, err, want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("register %s took %v", what, took)
			}
			code, body := post(t, s.url("/v2/systemsharedmemory/region/x/register"), fmt.Sprintf(`{"key": %q, "byte_size": %d}`, key, size))
			if code != 500 || body != `{"error":"`+want+`"}` {
				t.Errorf("REST register %s (byte size %d): %d %s", what, size, code, body)
			}
		}
	}
	if code, body := get(t, s.url("/v2/systemsharedmemory/status")); code != 200 || body != "[]" {
		t.Errorf("regions after the refusals: %d %s", code, body)
	}
	// The server's own file still registers.
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: own, ByteSize: 4096}); err != nil {
		t.Fatalf("registering the server's own file: %v", err)
	}
	// A file put in a registered key's place before the region's first
	// use is not the registered object: the plugin refuses to map it.
	key, path := shmPath(t, "replaced")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "r", Key: key, ByteSize: 4096}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f32bytes(seq(10, 0)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	_, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Parameters: shmParams("r", 0, 40)}}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "shared memory region 'r' cannot be mapped by the device" {
		t.Errorf("a region whose file was replaced: %v", err)
	}
	s.alive()

	// --client_shm_allowed_uids lets another owner's files in, and only
	// regular files.
	a := startServer(t, "dummy", "--allow_client_shm", "--client_shm_allowed_uids", "12345,23456")
	ac := kpb.NewGRPCInferenceServiceClient(a.conn)
	if _, err := ac.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "o", Key: refused["other-owner"], ByteSize: 4096}); err != nil {
		t.Errorf("register a file of an allowed uid: %v", err)
	}
	if _, err := ac.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "l", Key: refused["link-to-shadow"], ByteSize: 16}); status.Code(err) != codes.Internal {
		t.Errorf("register a link with other uids allowed: %v", err)
	}
}

// watchReady polls ModelReady every few milliseconds until stop is
// closed and returns how many polls found the model not ready.
func watchReady(t *testing.T, s *server, model string, stop <-chan struct{}) *atomic.Int64 {
	t.Helper()
	var down atomic.Int64
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			cx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r, err := c.ModelReady(cx, &kpb.ModelReadyRequest{Name: model})
			cancel()
			if err != nil || !r.GetReady() {
				down.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return &down
}

// TestClientShmTruncatedRegion truncates a registered region's object to
// zero: 20 requests that use it each get 400 naming the region and the
// input or output, the plugin does not crash (same pid) and the model stays
// ready throughout. Before: the plugin died of SIGBUS on the first request
// and the model was unavailable while it restarted.
func TestClientShmTruncatedRegion(t *testing.T) {
	s := startServer(t, "dummy", "--allow_client_shm")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	key, mem := clientRegion(t, 4096)
	copy(mem, f32bytes(seq(10, 0)...))
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 4096}); err != nil {
		t.Fatal(err)
	}
	req := func(inRegion bool) *kpb.ModelInferRequest {
		r := &kpb.ModelInferRequest{ModelName: "dummy",
			Inputs:  []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
			Outputs: []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "a", Parameters: shmParams("io", 2048, 40)}}}
		if inRegion {
			r.Inputs[0].Parameters = shmParams("io", 0, 40)
		} else {
			r.RawInputContents = [][]byte{f32bytes(seq(10, 0)...)}
		}
		return r
	}
	if _, err := c.ModelInfer(ctx(t), req(true)); err != nil {
		t.Fatal(err)
	}
	plugin := pluginPid(t, s)
	path := filepath.Join("/dev/shm", key)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	down := watchReady(t, s, "dummy", stop)
	for i := range 20 {
		for _, inRegion := range []bool{true, false} {
			_, err := c.ModelInfer(ctx(t), req(inRegion))
			want := "input b: shared memory region 'io' was truncated after registration and no longer holds bytes [0, 40) of the region"
			if !inRegion {
				want = "output a: shared memory region 'io' was truncated after registration and no longer holds bytes [2048, 2088) of the region"
			}
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != want {
				t.Fatalf("request %d (input in the region: %v): %v, want InvalidArgument %q", i, inRegion, err, want)
			}
		}
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	if n := down.Load(); n != 0 {
		t.Errorf("the model was not ready in %d polls while the requests failed", n)
	}
	if now := pluginPid(t, s); now != plugin {
		t.Fatalf("the plugin was restarted (pid %d, then %d)", plugin, now)
	}
	// REST gets 400 with the same words.
	code, body := post(t, s.url("/v2/models/dummy/infer"), `{"inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32",
		"parameters": {"shared_memory_region": "io", "shared_memory_byte_size": 40}}]}`)
	if code != 400 || !strings.Contains(body, "input b: shared memory region 'io' was truncated after registration") {
		t.Errorf("REST: %d %s", code, body)
	}
	// Grown back, the region works again.
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	copy(mem, f32bytes(seq(10, 0)...))
	if _, err := c.ModelInfer(ctx(t), req(true)); err != nil {
		t.Fatalf("after the object was grown back: %v", err)
	}
	if !equal(f32s(mem[2048:2088]), seq(10, 1)) {
		t.Fatalf("output %v", f32s(mem[2048:2088]))
	}
	s.alive()
}

// TestClientShmTruncationRacingRequests truncates and regrows a region in
// a loop while requests read their 1 MiB input from it and the engine
// writes the output into it, so truncations land between the checks and
// the engine's reads and writes (ONNX Runtime's threads, in C++). Every
// request succeeds or gets 400 naming the region; one caught while the
// engine used the region leaves it refused until it is registered again,
// which the client then does. The plugin never crashes (before: SIGBUS on
// the first request).
func TestClientShmTruncationRacingRequests(t *testing.T) {
	s := startServer(t, "passthrough_u8", "--allow_client_shm")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	const size = 1 << 20
	key, region := clientRegion(t, 2*size)
	for i := range region[:size] {
		region[i] = byte(i)
	}
	register := func() {
		if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 2 * size}); err != nil {
			t.Fatal(err)
		}
	}
	reregister := func() { // while the object may be cut short: until it takes
		if _, err := c.SystemSharedMemoryUnregister(ctx(t), &kpb.SystemSharedMemoryUnregisterRequest{Name: "io"}); err != nil {
			t.Fatal(err)
		}
		var err error
		for range 1000 {
			if _, err = c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 2 * size}); err == nil {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
		t.Fatalf("registering again: %v", err)
	}
	register()
	infer := func() error {
		_, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8",
			Inputs:  []*inT{{Name: "input", Datatype: "UINT8", Shape: []int64{1024, 1024}, Parameters: shmParams("io", 0, size)}},
			Outputs: []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "copy:0", Parameters: shmParams("io", size, size)}}})
		return err
	}
	if err := infer(); err != nil {
		t.Fatal(err)
	}
	plugin := pluginPid(t, s)
	coreFDs, _, _ := procCounts(t, s.cmd.Process.Pid)
	pluginFDs, _, pluginMaps := procCounts(t, plugin) // with the region mapped
	path := filepath.Join("/dev/shm", key)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the hostile client: never touches its own mapping meanwhile
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.Truncate(path, 0)
			time.Sleep(100 * time.Microsecond)
			_ = os.Truncate(path, 2*size)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var ok, refused, whileUsed int
	start := time.Now()
	for since := time.Duration(0); since < 3*time.Second || whileUsed == 0 && since < 15*time.Second; since = time.Since(start) {
		err := infer()
		st := status.Convert(err)
		switch {
		case err == nil:
			ok++
		case st.Code() == codes.InvalidArgument && strings.Contains(st.Message(), "shared memory region 'io' was truncated while a request used it"):
			whileUsed++
			reregister()
		case st.Code() == codes.InvalidArgument && (strings.Contains(st.Message(), "shared memory region 'io' was truncated after registration") ||
			st.Message() == "shared memory region 'io' cannot be mapped by the device"): // cut short at its first use
			refused++
		default:
			close(stop)
			wg.Wait()
			t.Fatalf("after %d good and %d refused requests: %v", ok, refused+whileUsed, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests succeeded, %d were refused before the engine ran, %d were caught truncated while the engine used the region",
		ok, refused, whileUsed)
	if whileUsed == 0 {
		t.Errorf("no truncation landed while the engine used the region in 15 s: the race was not exercised")
	}
	if now := pluginPid(t, s); now != plugin {
		t.Fatalf("the plugin was restarted (pid %d, then %d)", plugin, now)
	}
	// Calm again, the region works and holds the right bytes.
	if err := os.Truncate(path, 2*size); err != nil {
		t.Fatal(err)
	}
	reregister()
	for i := range region[:size] {
		region[i] = byte(i)
	}
	if err := infer(); err != nil {
		t.Fatalf("after the truncations: %v", err)
	}
	for i := range size {
		if region[size+i] != byte(i) {
			t.Fatalf("output byte %d = %d", i, region[size+i])
		}
	}
	// Every registration's descriptors and mappings were released.
	if _, err := c.SystemSharedMemoryUnregister(ctx(t), &kpb.SystemSharedMemoryUnregisterRequest{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cf, _, _ := procCounts(t, s.cmd.Process.Pid)
		pf, _, pm := procCounts(t, plugin)
		if cf <= coreFDs && pf < pluginFDs && pm < pluginMaps {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open descriptors: core %d (was %d), plugin %d and %d shm mappings (was %d and %d with the region mapped)",
				cf, coreFDs, pf, pm, pluginFDs, pluginMaps)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.alive()
}
