package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// memoryHolds reports whether any readable mapping of process pid, other
// than those of files whose path contains skip, holds probe. The test
// process started ovms, so it may read its memory (ptrace access to a
// child).
func memoryHolds(t *testing.T, pid int, skip string, probe []byte) (bool, string) {
	t.Helper()
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer maps.Close()
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	sc := bufio.NewScanner(maps)
	buf := make([]byte, 8<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' || (len(f) >= 6 && strings.Contains(f[5], skip)) {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		// Read in chunks overlapping by len(probe) so no match is split.
		for off := start; off < end; {
			n := min(uint64(len(buf)), end-off)
			got, _ := mem.ReadAt(buf[:n], int64(off))
			if got > 0 && bytes.Contains(buf[:got], probe) {
				return true, sc.Text()
			}
			if off+n >= end {
				break
			}
			off += n - uint64(len(probe))
		}
	}
	return false, ""
}

// TestClientSharedMemoryInputIsNotCopiedByTheCore passes a 1 MiB random
// input and its output through a client region to the identity model and
// then searches the core process's whole memory (heap, stacks, the plugin
// arena; everything but the client region itself) for the input's bytes:
// they must not be there. The same search after a request carrying the
// bytes in the gRPC message finds them, which shows the search works.
func TestClientSharedMemoryInputIsNotCopiedByTheCore(t *testing.T) {
	s := startServer(t, "passthrough_u8", "--allow_client_shm")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	const size = 1 << 20
	key, region := clientRegion(t, 2*size)
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 7))
	for i := range region[:size] {
		region[i] = byte(rng.Uint32())
	}
	probe := append([]byte(nil), region[size/2:size/2+256]...)
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 2 * size}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8",
		Inputs:  []*kpb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "UINT8", Shape: []int64{1024, 1024}, Parameters: shmParams("io", 0, size)}},
		Outputs: []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "copy:0", Parameters: shmParams("io", size, size)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(region[size:], region[:size]) {
		t.Fatal("the engine's output in the region is not the input: the engine did not read the region")
	}
	pid := s.cmd.Process.Pid
	if found, where := memoryHolds(t, pid, key, probe); found {
		t.Fatalf("the input's bytes are in the core's memory at %s: the core copied them", where)
	}

	// Control: the same bytes sent in the gRPC message are found.
	_, err = c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "UINT8", Shape: []int64{1024, 1024}}},
		RawInputContents: [][]byte{region[:size]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if found, _ := memoryHolds(t, pid, key, probe); !found {
		t.Fatal("the search did not find bytes the core did receive in a gRPC message: the search is broken")
	}
	s.alive()
}
