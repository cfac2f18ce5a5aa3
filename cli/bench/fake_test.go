package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// fakeServer is a small KServe server (gRPC and REST) for model "addone"
// (b FP32 [-1,4] -> a = b + 1) with the system shared-memory extension as
// Triton defines it.
type fakeServer struct {
	kpb.UnimplementedGRPCInferenceServiceServer
	noShm bool // answer the extension's RPCs with UNIMPLEMENTED

	mu         sync.Mutex
	regions    map[string]*fakeRegion
	events     []string
	lastInput  []float32
	shmInfers  int
	dataInfers int
	lastInfer  time.Time
}

// waitQuiet waits until no inference has arrived for 100 ms (at most 2 s),
// so that requests a finished run cancelled but the server still serves
// are not counted in the next one.
func (f *fakeServer) waitQuiet() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		quiet := time.Since(f.lastInfer) > 100*time.Millisecond
		f.mu.Unlock()
		if quiet {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fakeRegion struct {
	key  string
	mem  []byte
	size uint64
}

func newFakeServer() *fakeServer { return &fakeServer{regions: map[string]*fakeRegion{}} }

func (f *fakeServer) ModelMetadata(_ context.Context, req *kpb.ModelMetadataRequest) (*kpb.ModelMetadataResponse, error) {
	if req.Name != "addone" {
		return nil, status.Errorf(codes.NotFound, "model %s not found", req.Name)
	}
	return &kpb.ModelMetadataResponse{Name: "addone", Versions: []string{"1"},
		Inputs:  []*kpb.ModelMetadataResponse_TensorMetadata{{Name: "b", Datatype: "FP32", Shape: []int64{-1, 4}}},
		Outputs: []*kpb.ModelMetadataResponse_TensorMetadata{{Name: "a", Datatype: "FP32", Shape: []int64{-1, 4}}}}, nil
}

func (f *fakeServer) register(name, key string, offset, size uint64) error {
	if f.noShm {
		return status.Error(codes.Unimplemented, "method SystemSharedMemoryRegister not implemented")
	}
	file, err := os.OpenFile(filepath.Join(shmDir, strings.TrimPrefix(key, "/")), os.O_RDWR, 0)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "open %s: %v", key, err)
	}
	defer file.Close()
	mem, err := syscall.Mmap(int(file.Fd()), 0, int(offset+size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "map %s: %v", key, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.regions[name] = &fakeRegion{key: key, mem: mem[offset:], size: size}
	f.events = append(f.events, "register "+name[strings.LastIndex(name, "_")+1:])
	return nil
}

func (f *fakeServer) unregister(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.regions[name]
	if !ok {
		return status.Errorf(codes.NotFound, "no region %s", name)
	}
	_ = syscall.Munmap(r.mem[:cap(r.mem)])
	delete(f.regions, name)
	f.events = append(f.events, "unregister "+name[strings.LastIndex(name, "_")+1:])
	return nil
}

func (f *fakeServer) SystemSharedMemoryRegister(_ context.Context, req *kpb.SystemSharedMemoryRegisterRequest) (*kpb.SystemSharedMemoryRegisterResponse, error) {
	return &kpb.SystemSharedMemoryRegisterResponse{}, f.register(req.Name, req.Key, req.Offset, req.ByteSize)
}

func (f *fakeServer) SystemSharedMemoryUnregister(_ context.Context, req *kpb.SystemSharedMemoryUnregisterRequest) (*kpb.SystemSharedMemoryUnregisterResponse, error) {
	return &kpb.SystemSharedMemoryUnregisterResponse{}, f.unregister(req.Name)
}

func (f *fakeServer) SystemSharedMemoryStatus(_ context.Context, req *kpb.SystemSharedMemoryStatusRequest) (*kpb.SystemSharedMemoryStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &kpb.SystemSharedMemoryStatusResponse{Regions: map[string]*kpb.SystemSharedMemoryStatusResponse_RegionStatus{}}
	for name, r := range f.regions {
		if req.Name == "" || req.Name == name {
			resp.Regions[name] = &kpb.SystemSharedMemoryStatusResponse_RegionStatus{Name: name, Key: r.key, ByteSize: r.size}
		}
	}
	return resp, nil
}

// place is a tensor's shared-memory parameters, if any.
type place struct {
	region       string
	offset, size int64
}

// slice returns the bytes of a place, bounds-checked.
func (f *fakeServer) slice(p place) ([]byte, error) {
	f.mu.Lock()
	r := f.regions[p.region]
	f.mu.Unlock()
	if r == nil || p.offset < 0 || p.size < 0 || uint64(p.offset+p.size) > r.size {
		return nil, fmt.Errorf("bad shared memory place %+v", p)
	}
	return r.mem[p.offset : p.offset+p.size], nil
}

// infer runs a = b + 1 from data or an input place, into an output place
// (returning nil) or returned bytes.
func (f *fakeServer) infer(data []byte, in, out *place) ([]byte, error) {
	var err error
	if in != nil {
		if data, err = f.slice(*in); err != nil {
			return nil, err
		}
	}
	vals := f32s(data)
	f.mu.Lock()
	f.lastInput = vals
	f.lastInfer = time.Now()
	if in != nil {
		f.shmInfers++
	} else {
		f.dataInfers++
	}
	f.mu.Unlock()
	res := make([]byte, 0, len(data))
	for _, v := range vals {
		res = binary.LittleEndian.AppendUint32(res, math.Float32bits(v+1))
	}
	if out == nil {
		return res, nil
	}
	dst, err := f.slice(*out)
	if err != nil || len(dst) < len(res) {
		return nil, fmt.Errorf("output place %+v: %v", out, err)
	}
	copy(dst, res)
	return nil, nil
}

func grpcPlace(p map[string]*kpb.InferParameter) *place {
	if p["shared_memory_region"] == nil {
		return nil
	}
	return &place{p["shared_memory_region"].GetStringParam(), p["shared_memory_offset"].GetInt64Param(), p["shared_memory_byte_size"].GetInt64Param()}
}

func (f *fakeServer) ModelInfer(_ context.Context, req *kpb.ModelInferRequest) (*kpb.ModelInferResponse, error) {
	in := req.Inputs[0]
	var data []byte
	if len(req.RawInputContents) > 0 {
		data = req.RawInputContents[0]
	}
	var out *place
	if len(req.Outputs) > 0 {
		out = grpcPlace(req.Outputs[0].Parameters)
	}
	res, err := f.infer(data, grpcPlace(in.Parameters), out)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp := &kpb.ModelInferResponse{ModelName: "addone", Outputs: []*kpb.ModelInferResponse_InferOutputTensor{{Name: "a", Datatype: "FP32", Shape: in.Shape}}}
	if res != nil {
		resp.RawOutputContents = [][]byte{res}
	}
	return resp, nil
}

// startGRPC serves f on a loopback port and returns its address.
func (f *fakeServer) startGRPC(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	kpb.RegisterGRPCInferenceServiceServer(s, f)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// ServeHTTP is the REST side: metadata, infer (JSON, binary, shared
// memory) and region register/unregister.
func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, err error) { w.WriteHeader(code); fmt.Fprintf(w, `{"error":%q}`, err.Error()) }
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v2/models/addone":
		md, _ := f.ModelMetadata(r.Context(), &kpb.ModelMetadataRequest{Name: "addone"})
		_ = json.NewEncoder(w).Encode(md)
	case strings.HasPrefix(r.URL.Path, "/v2/systemsharedmemory/region/"):
		name, action, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/systemsharedmemory/region/"), "/")
		var body struct {
			Key      string `json:"key"`
			Offset   uint64 `json:"offset"`
			ByteSize uint64 `json:"byte_size"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		var err error
		if action == "register" {
			err = f.register(name, body.Key, body.Offset, body.ByteSize)
		} else {
			err = f.unregister(name)
		}
		if err != nil {
			fail(http.StatusBadRequest, err)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/v2/models/addone/infer":
		f.restInfer(w, r, fail)
	default:
		fail(http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path))
	}
}

type restTensor struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape,omitempty"`
	Datatype   string         `json:"datatype,omitempty"`
	Data       []float32      `json:"data,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

func restPlace(p map[string]any) *place {
	region, ok := p["shared_memory_region"].(string)
	if !ok {
		return nil
	}
	return &place{region, int64(p["shared_memory_offset"].(float64)), int64(p["shared_memory_byte_size"].(float64))}
}

func (f *fakeServer) restInfer(w http.ResponseWriter, r *http.Request, fail func(int, error)) {
	body, _ := io.ReadAll(r.Body)
	jsonLen := len(body)
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		jsonLen, _ = strconv.Atoi(h)
	}
	var req struct{ Inputs, Outputs []restTensor }
	if err := json.Unmarshal(body[:jsonLen], &req); err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	in := req.Inputs[0]
	data := body[jsonLen:]
	if in.Data != nil {
		data = nil
		for _, v := range in.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
	}
	var out *place
	binaryOut := false
	if len(req.Outputs) > 0 {
		out = restPlace(req.Outputs[0].Parameters)
		binaryOut = req.Outputs[0].Parameters["binary_data"] == true
	}
	res, err := f.infer(data, restPlace(in.Parameters), out)
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	o := restTensor{Name: "a", Shape: in.Shape, Datatype: "FP32"}
	switch {
	case res == nil:
	case binaryOut:
		o.Parameters = map[string]any{"binary_data_size": len(res)}
	default:
		o.Data = f32s(res)
	}
	head, _ := json.Marshal(map[string]any{"model_name": "addone", "outputs": []restTensor{o}})
	if binaryOut {
		w.Header().Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
		head = append(head, res...)
	}
	_, _ = w.Write(head)
}
