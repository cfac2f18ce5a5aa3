package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// clientRegion creates a /dev/shm object of size bytes, mapped here, and
// removes it with the test.
func clientRegion(t *testing.T, size int) (key string, mem []byte) {
	t.Helper()
	key = fmt.Sprintf("ovms-it-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	path := filepath.Join("/dev/shm", key)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	mem, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem); os.Remove(path) })
	return key, mem
}

func shmParams(region string, offset, size int64) map[string]*kpb.InferParameter {
	p := map[string]*kpb.InferParameter{
		"shared_memory_region":    {ParameterChoice: &kpb.InferParameter_StringParam{StringParam: region}},
		"shared_memory_byte_size": {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: size}},
	}
	if offset != 0 {
		p["shared_memory_offset"] = &kpb.InferParameter{ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: offset}}
	}
	return p
}

func TestClientSharedMemoryGRPC(t *testing.T) {
	s := startServer(t, "dummy", "--allow_client_shm")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	key, mem := clientRegion(t, 4096)
	copy(mem[100:], f32bytes(seq(10, 5)...))
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, Offset: 0, ByteSize: 4096}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 4096}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second registration of a name: %v", err)
	}
	st, err := c.SystemSharedMemoryStatus(ctx(t), &kpb.SystemSharedMemoryStatusRequest{})
	if err != nil || st.Regions["io"].GetKey() != key || st.Regions["io"].GetByteSize() != 4096 {
		t.Fatalf("status %v %v", st, err)
	}
	resp, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{
		ModelName: "dummy",
		Inputs:    []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Parameters: shmParams("io", 100, 40)}},
		Outputs:   []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "a", Parameters: shmParams("io", 2048, 40)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !equal(f32s(mem[2048:2088]), seq(10, 6)) {
		t.Fatalf("output in shared memory: %v", f32s(mem[2048:2088]))
	}
	if len(resp.RawOutputContents) != 1 || len(resp.RawOutputContents[0]) != 0 ||
		resp.Outputs[0].Parameters["shared_memory_region"].GetStringParam() != "io" {
		t.Fatalf("response for a shared-memory output: %v", resp)
	}
	bad := []struct {
		name string
		p    map[string]*kpb.InferParameter
		code codes.Code
		msg  string
	}{
		{"unknown region", shmParams("nope", 0, 40), codes.NotFound, "Unable to find shared memory region: 'nope'"},
		{"past the region", shmParams("io", 4080, 40), codes.InvalidArgument, "Invalid offset + byte size for shared memory region: 'io'"},
		{"offset past the region", shmParams("io", 5000, 40), codes.InvalidArgument, "Invalid offset for shared memory region: 'io'"},
		{"wrong size", shmParams("io", 0, 36), codes.InvalidArgument, "Invalid content size of tensor proto - Expected: 40 bytes; Actual: 36 bytes; input name: b"},
	}
	for _, b := range bad {
		_, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
			Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Parameters: b.p}}})
		if st := status.Convert(err); st.Code() != b.code || st.Message() != b.msg {
			t.Errorf("%s: %v %q", b.name, st.Code(), st.Message())
		}
	}
	if _, err := c.SystemSharedMemoryUnregister(ctx(t), &kpb.SystemSharedMemoryUnregisterRequest{Name: "io"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Parameters: shmParams("io", 100, 40)}}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("request naming an unregistered region: %v", err)
	}
	// Only /dev/shm objects can be registered.
	for _, k := range []string{"../etc/passwd", "a/b", ""} {
		if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "x", Key: k, ByteSize: 1}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("register key %q: %v", k, err)
		}
	}
	// A key that names no object: Triton's INTERNAL "Unable to open".
	_, err = c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "x", Key: "/does-not-exist-ovms", ByteSize: 1})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "Unable to open shared memory region: '/does-not-exist-ovms'" {
		t.Errorf("register of a missing key: %v", err)
	}
	s.alive()
}

func TestClientSharedMemoryREST(t *testing.T) {
	s := startServer(t, "dummy", "--allow_client_shm")
	key, mem := clientRegion(t, 1024)
	copy(mem, f32bytes(seq(10, 0)...))
	code, body := post(t, s.url("/v2/systemsharedmemory/region/r/register"), fmt.Sprintf(`{"key": %q, "offset": 0, "byte_size": 1024}`, key))
	if code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	code, body = get(t, s.url("/v2/systemsharedmemory/status"))
	if code != 200 || body != fmt.Sprintf(`[{"name":"r","key":%q,"offset":0,"byte_size":1024}]`, key) {
		t.Fatalf("status: %d %s", code, body)
	}
	code, body = post(t, s.url("/v2/models/dummy/infer"), `{"inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32",
		"parameters": {"shared_memory_region": "r", "shared_memory_byte_size": 40}}],
		"outputs": [{"name": "a", "parameters": {"shared_memory_region": "r", "shared_memory_offset": 512, "shared_memory_byte_size": 40}}]}`)
	if code != 200 || strings.Contains(body, `"data"`) || !strings.Contains(body, `"shared_memory_region": "r"`) {
		t.Fatalf("infer: %d %s", code, body)
	}
	if !equal(f32s(mem[512:552]), seq(10, 1)) {
		t.Fatalf("output %v", f32s(mem[512:552]))
	}
	if code, body = post(t, s.url("/v2/systemsharedmemory/unregister"), ""); code != 200 {
		t.Fatalf("unregister all: %d %s", code, body)
	}
	if code, _ = get(t, s.url("/v2/systemsharedmemory/region/r/status")); code != 404 {
		t.Fatalf("status of an unregistered region: %d", code)
	}
}

func TestClientSharedMemoryIsOffByDefault(t *testing.T) {
	s := startServer(t, "dummy")
	_, err := kpb.NewGRPCInferenceServiceClient(s.conn).SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "x", Key: "x", ByteSize: 1})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("gRPC register without --allow_client_shm: %v", err)
	}
	code, body := post(t, s.url("/v2/systemsharedmemory/region/x/register"), `{"key": "x", "byte_size": 1}`)
	if code != 400 || body != `{"error":"Invalid request URL"}` {
		t.Errorf("REST register without --allow_client_shm: %d %s", code, body)
	}
	code, body = post(t, s.url("/v2/models/dummy/infer"), `{"inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32",
		"parameters": {"shared_memory_region": "r", "shared_memory_byte_size": 40}}]}`)
	if code != 400 || !strings.Contains(body, "--allow_client_shm") {
		t.Errorf("infer naming a region without --allow_client_shm: %d %s", code, body)
	}
}
