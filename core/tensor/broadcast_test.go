package tensor

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

func TestBroadcastFillsTheShape(t *testing.T) {
	for _, n := range []int{2, 3, 10, 1000} {
		dst := make([]byte, 4*n)
		if err := (Broadcast{One: Numbers[float32]{2.5}, N: n}).Put(dst, device.Float32); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if v := math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:])); v != 2.5 {
				t.Fatalf("n=%d: element %d = %v", n, i, v)
			}
		}
	}
	dst := make([]byte, 7*8)
	if err := (Broadcast{One: Numbers[int32]{-3}, N: 7}).Put(dst, device.Int64); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		if v := int64(binary.LittleEndian.Uint64(dst[8*i:])); v != -3 {
			t.Fatalf("int64 element %d = %d", i, v)
		}
	}
}
