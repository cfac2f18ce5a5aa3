package dataplane

import (
	"os"
	"strings"
	"testing"
	"time"
)

// channelMaps counts this process's mappings of channel memfds.
func channelMaps(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "memfd:ovms-channel")
}

// TestChannelCloseUnmaps: a closed channel gives its mapping back, at once
// when nobody uses it, and when a receiver blocked on its doorbell has
// returned otherwise; calls after Close fail with ErrClosed.
func TestChannelCloseUnmaps(t *testing.T) {
	before := channelMaps(t)
	for i := 0; i < 10; i++ {
		c, err := CreateChannel(16)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Host().Send(1, 1, []byte("x")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := channelMaps(t); n != before {
		t.Fatalf("10 closed channels left %d mappings", n-before)
	}

	c, err := CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	plugin := c.Plugin()
	plugin.Spin = 0
	got := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- plugin.Receive(func(_ uint64, _ uint32, p []byte) { got <- string(p) })
	}()
	if err := c.Host().Send(7, 1, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "hello" {
		t.Fatalf("received %q", s)
	}
	time.Sleep(20 * time.Millisecond) // the receiver sleeps on its doorbell
	c.Close()
	select {
	case err := <-done:
		if err != ErrClosed {
			t.Fatalf("Receive returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the receiver")
	}
	if n := channelMaps(t); n != before {
		t.Fatalf("the closed channel is still mapped (%d mappings)", n-before)
	}
	if err := c.Host().Send(8, 1, nil); err != ErrClosed {
		t.Fatalf("Send after Close: %v", err)
	}
	c.Host().Nudge() // must not touch the unmapped rings
}
