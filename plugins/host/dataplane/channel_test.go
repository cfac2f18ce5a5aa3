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

// TestDozeEndsWhenAMessageComes: a receiver dozing (Doze asks for a long
// sleep) counts as asleep, so a message sent meanwhile rings it and is
// received at once, not when the doze would have ended; messages after
// the doze are received too.
func TestDozeEndsWhenAMessageComes(t *testing.T) {
	c, err := CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host := c.Host()
	host.Spin = time.Hour // poll (or doze) between messages, never sleep on the doorbell
	dozes := make(chan time.Time, 64)
	first := true
	host.Doze = func() time.Duration {
		if first {
			first = false
			dozes <- time.Now()
			return 30 * time.Second
		}
		return 0
	}
	got := make(chan time.Time, 4)
	go func() {
		_ = host.Receive(func(_ uint64, _ uint32, _ []byte) { got <- time.Now() })
	}()
	plugin := c.Plugin()
	// The first message starts the receiver's polling; the next poll dozes.
	if err := plugin.Send(1, 1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	<-got
	var dozed time.Time
	select {
	case dozed = <-dozes:
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver never dozed")
	}
	time.Sleep(20 * time.Millisecond) // into the doze
	sent := time.Now()
	if err := plugin.Send(2, 1, []byte("b")); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		if took := at.Sub(sent); took > 2*time.Second {
			t.Fatalf("received %v after the send: the doze was not ended by the doorbell", took)
		}
		t.Logf("dozed at %v, message received %v after its send", dozed.Format("15:04:05.000000"), at.Sub(sent))
	case <-time.After(5 * time.Second):
		t.Fatal("a message sent during a 30 s doze was not received within 5 s")
	}
	if err := plugin.Send(3, 1, []byte("c")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a message after the doze was not received")
	}
}
