package shm

import (
	"errors"
	"math/rand"
	"testing"
)

func TestZoneAllocFreeCoalesces(t *testing.T) {
	z := NewZone(0, 1024)
	a, _ := z.Alloc(100) // 128
	b, _ := z.Alloc(1)   // 64
	c, _ := z.Alloc(0)   // 64
	if a != 0 || b != 128 || c != 192 {
		t.Fatalf("offsets %d %d %d", a, b, c)
	}
	if z.Used() != 256 {
		t.Fatalf("used %d", z.Used())
	}
	if _, err := z.Alloc(1024); !errors.Is(err, ErrFull) {
		t.Fatalf("oversized alloc: %v", err)
	}
	for _, off := range []uint64{b, a, c} {
		if err := z.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	if len(z.free) != 1 || z.free[0] != (span{0, 1024}) {
		t.Fatalf("free list not coalesced: %+v", z.free)
	}
	if err := z.Free(a); err == nil {
		t.Fatal("double free accepted")
	}
	if off, err := z.Alloc(1024); err != nil || off != 0 {
		t.Fatalf("whole-zone alloc after frees: %d %v", off, err)
	}
}

func TestZoneRandomisedNoOverlap(t *testing.T) {
	z := NewZone(4096, 4096+1<<20)
	rng := rand.New(rand.NewSource(1))
	live := map[uint64]uint64{}
	for i := 0; i < 20000; i++ {
		if len(live) > 0 && rng.Intn(2) == 0 {
			for off := range live {
				if err := z.Free(off); err != nil {
					t.Fatal(err)
				}
				delete(live, off)
				break
			}
			continue
		}
		n := uint64(rng.Intn(20000))
		off, err := z.Alloc(n)
		if errors.Is(err, ErrFull) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if !z.Contains(off, n) || off%Align != 0 {
			t.Fatalf("alloc %d at %d outside zone or unaligned", n, off)
		}
		for o, m := range live {
			if off < o+roundUp(m) && o < off+roundUp(n) {
				t.Fatalf("[%d,+%d) overlaps [%d,+%d)", off, n, o, m)
			}
		}
		live[off] = n
	}
	for off := range live {
		z.Free(off)
	}
	if z.Used() != 0 || len(z.free) != 1 {
		t.Fatalf("after freeing all: used %d free %+v", z.Used(), z.free)
	}
}

func TestZoneReset(t *testing.T) {
	z := NewZone(64, 640)
	z.Alloc(100)
	z.Alloc(100)
	z.Reset()
	if z.Allocations() != 0 || z.Used() != 0 {
		t.Fatal("reset left allocations")
	}
	if off, err := z.Alloc(576); err != nil || off != 64 {
		t.Fatalf("alloc after reset: %d %v", off, err)
	}
}
