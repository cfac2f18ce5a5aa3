package modelmanager

import (
	"strings"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
)

// TestPoisonList: a recorded request is refused by its exact inputs (names,
// types, shapes and bytes), with an error naming the model and version,
// until its entry expires; other requests pass.
func TestPoisonList(t *testing.T) {
	arena, err := host.CreateArena("poison-test", 1<<20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	defer arena.Close()
	put := func(off uint64, b ...byte) device.TensorRef {
		dst, _ := arena.Bytes(off, uint64(len(b)))
		copy(dst, b)
		return device.TensorRef{Name: "b", DType: device.Uint8, Shape: []int64{1, int64(len(b))}, Offset: off, Length: uint64(len(b))}
	}
	v := &Version{Model: "m", Number: 3}
	bad := newFingerprint(arena, []device.TensorRef{put(0, 6, 6, 6)})
	if v.poison.active() {
		t.Fatal("an empty list is active")
	}
	v.poison.add(&bad)
	same := newFingerprint(arena, []device.TensorRef{put(64, 6, 6, 6)}) // the same bytes elsewhere
	err = v.poison.refuse(v, &same)
	if err == nil || !strings.Contains(err.Error(), "model m version 3 refuses this request") || !strings.Contains(err.Error(), bad.ID()) {
		t.Fatalf("the same request: %v", err)
	}
	for name, f := range map[string]fingerprint{
		"other bytes": newFingerprint(arena, []device.TensorRef{put(128, 6, 6, 7)}),
		"other shape": newFingerprint(arena, []device.TensorRef{put(192, 6, 6, 6, 6)}),
	} {
		if err := v.poison.refuse(v, &f); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
		if name == "other shape" && f.done {
			t.Error("inputs of another shape were hashed")
		}
	}
	v.poison.entries[0].until = time.Now().Add(-time.Second)
	if err := v.poison.refuse(v, &same); err != nil || v.poison.active() {
		t.Fatalf("an expired entry still refuses (%v) or stays listed", err)
	}
	for i := 0; i < maxPoison+5; i++ {
		f := newFingerprint(arena, []device.TensorRef{put(256, byte(i))})
		v.poison.add(&f)
	}
	if n := len(v.poison.entries); n != maxPoison {
		t.Fatalf("%d entries kept, want %d", n, maxPoison)
	}
}
