package dataplane

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestRingPushPopAndFull(t *testing.T) {
	mem := make([]byte, RingBytes(4)+64)
	off := (64 - int(uintptr(unsafe.Pointer(&mem[0]))%64)) % 64 // 64-byte align
	r, err := NewRing(mem[off:], 4, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Empty() || r.Pop(func(uint64, uint32, []byte) { t.Fatal("pop from empty ring") }) {
		t.Fatal("new ring not empty")
	}
	for i := 0; i < 4; i++ {
		if _, err := r.Push(uint64(i), 7, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Push(9, 0, nil); !errors.Is(err, ErrRingFull) {
		t.Fatalf("push to a full ring: %v", err)
	}
	if _, err := r.Push(9, 0, make([]byte, SlotPayload+1)); err == nil {
		t.Fatal("oversized payload accepted")
	}
	for i := 0; i < 4; i++ {
		r.Pop(func(id uint64, kind uint32, p []byte) {
			if id != uint64(i) || kind != 7 || len(p) != 1 || p[0] != byte(i) {
				t.Fatalf("pop %d: id %d kind %d payload %v", i, id, kind, p)
			}
		})
	}
	if !r.Empty() {
		t.Fatal("ring not empty after popping everything")
	}
}

func TestChannelManyProducersOneConsumer(t *testing.T) {
	c, err := CreateChannel(64)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, plugin := c.Host(), c.Plugin()
	plugin.Spin = 0 // exercise the doorbell path
	const producers, each = 8, 2000
	got := make([][]uint64, producers)
	done := make(chan error)
	go func() {
		n := 0
		done <- plugin.Receive(func(id uint64, kind uint32, p []byte) {
			pr := int(kind)
			got[pr] = append(got[pr], binary.LittleEndian.Uint64(p))
			n++
			if n == producers*each {
				go c.Close()
			}
		})
	}()
	var wg sync.WaitGroup
	for pr := 0; pr < producers; pr++ {
		wg.Add(1)
		go func(pr int) {
			defer wg.Done()
			var b [8]byte
			for i := 0; i < each; i++ {
				binary.LittleEndian.PutUint64(b[:], uint64(i))
				if err := host.Send(uint64(pr*each+i), uint32(pr), b[:]); err != nil {
					t.Error(err)
					return
				}
			}
		}(pr)
	}
	wg.Wait()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("consumer did not receive every message")
	}
	for pr, seq := range got {
		if len(seq) != each {
			t.Fatalf("producer %d: %d messages, want %d", pr, len(seq), each)
		}
		for i, v := range seq {
			if v != uint64(i) {
				t.Fatalf("producer %d: message %d is %d (out of order)", pr, i, v)
			}
		}
	}
	if err := host.Send(1, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on a closed channel: %v", err)
	}
}

func BenchmarkChannelRoundTrip(b *testing.B) {
	c, err := CreateChannel(64)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	host, plugin := c.Host(), c.Plugin()
	go plugin.Receive(func(id uint64, kind uint32, p []byte) { plugin.Send(id, kind, p) })
	replies := make(chan struct{}, 1)
	go host.Receive(func(uint64, uint32, []byte) { replies <- struct{}{} })
	payload := make([]byte, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		host.Send(uint64(i), 1, payload)
		<-replies
	}
}
