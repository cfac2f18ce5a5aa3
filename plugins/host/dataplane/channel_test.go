package dataplane

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
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

// receiving opens a channel whose host end receives with spinFor, passing
// the ids it gets to the returned channel until the test ends.
func receiving(t *testing.T, spinFor func() time.Duration) (host, plugin *Endpoint, got chan uint64) {
	t.Helper()
	c, err := CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	host, plugin = c.Host(), c.Plugin()
	host.SpinFor = spinFor
	got = make(chan uint64, 4)
	go func() {
		_ = host.Receive(func(id uint64, _ uint32, _ []byte) { got <- id })
	}()
	return host, plugin, got
}

// receive fails the test with failure unless message want arrives on got
// within d (and fails it if another message comes instead).
func receive(t *testing.T, got <-chan uint64, want uint64, d time.Duration, failure string) {
	t.Helper()
	select {
	case id := <-got:
		if id != want {
			t.Fatalf("got message %d, want %d", id, want)
		}
	case <-time.After(d):
		t.Fatal(failure)
	}
}

// sleepingSoon waits until the endpoint's Receive sleeps on its doorbell.
func sleepingSoon(t *testing.T, e *Endpoint) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.recv.word(offSleeping).Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the receiver never slept on its doorbell")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestKickWakesSleepingReceiver: a receiver asleep on its doorbell does not
// see a message pushed without ringing; Kick wakes it, it takes the message
// and polls, so the next message needs no doorbell. (That the window runs
// from the Kick is TestKickExtendsPollingWindow's.)
func TestKickWakesSleepingReceiver(t *testing.T) {
	var spin atomic.Int64 // how long the receiver polls after a message or a kick
	host, plugin, got := receiving(t, func() time.Duration { return time.Duration(spin.Load()) })
	sleepingSoon(t, host)
	time.Sleep(10 * time.Millisecond) // past its last look at the ring

	// Asleep: a push that does not ring stays in the ring.
	if _, err := plugin.send.Push(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		t.Fatalf("a sleeping receiver got message %d without a doorbell", id)
	case <-time.After(50 * time.Millisecond):
	}
	spin.Store(int64(10 * time.Second))
	host.Kick() // wakes it: it takes message 1, then polls
	receive(t, got, 1, 5*time.Second, "Kick did not wake a sleeping receiver")
	rings := plugin.Rings()
	if err := plugin.Send(2, 1, nil); err != nil {
		t.Fatal(err)
	}
	receive(t, got, 2, 5*time.Second, "a kicked receiver did not poll for the next message")
	if n := plugin.Rings() - rings; n != 0 {
		t.Errorf("Send rang the doorbell %d times although the receiver was polling", n)
	}
}

// TestKickExtendsPollingWindow: a Kick while the receiver polls moves the
// end of its window: a message pushed without ringing after the window
// that the last message opened, but inside the one the Kick opened, is
// received.
func TestKickExtendsPollingWindow(t *testing.T) {
	const window = 200 * time.Millisecond
	host, plugin, got := receiving(t, func() time.Duration { return window })
	for try, id := 0, uint64(1); ; try, id = try+1, id+2 {
		if try == 5 {
			t.Skip("this machine never kept the test's timing (5 tries)")
		}
		if err := plugin.Send(id, 1, nil); err != nil { // opens a window
			t.Fatal(err)
		}
		receive(t, got, id, 5*time.Second, "a rung message was not received")
		t0 := time.Now()
		time.Sleep(window * 3 / 5)
		host.Kick() // inside the window: no doorbell, only a later end
		kicked := time.Since(t0)
		time.Sleep(window*3/5 - (time.Since(t0) - kicked))
		if _, err := plugin.send.Push(id+1, 1, nil); err != nil { // no ring
			t.Fatal(err)
		}
		pushed := time.Since(t0)
		if kicked > window*4/5 || pushed < window || pushed > kicked+window*4/5 {
			host.Kick() // the timing slipped: fetch the message and try again
			receive(t, got, id+1, 5*time.Second, "Kick did not wake the receiver")
			continue
		}
		receive(t, got, id+1, 2*time.Second, fmt.Sprintf("pushed %v after the last message (window %v), %v after a Kick: the receiver slept", pushed, window, pushed-kicked))
		return
	}
}

// TestPollingReceiverYields: while Receive polls it gives its CPU to other
// processes every Yield, or every YieldFor when that is set (counted by
// Yields), and not at all with 0; either way it still takes the messages
// pushed while it polls.
func TestPollingReceiverYields(t *testing.T) {
	for _, c := range []struct {
		yield time.Duration
		asked bool // through YieldFor instead of Yield
	}{{0, false}, {time.Microsecond, false}, {0, true}, {time.Microsecond, true}} {
		yield, asked := c.yield, c.asked
		t.Run(fmt.Sprintf("yield=%v,YieldFor=%v", yield, asked), func(t *testing.T) {
			c, err := CreateChannel(16)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			host, plugin := c.Host(), c.Plugin()
			host.Spin, host.Yield = time.Minute, yield
			if asked {
				host.Yield = 5 * time.Microsecond // overridden by YieldFor
				host.YieldFor = func() time.Duration { return yield }
			}
			got := make(chan uint64, 4)
			go func() { _ = host.Receive(func(id uint64, _ uint32, _ []byte) { got <- id }) }()
			if yield == 0 {
				time.Sleep(100 * time.Millisecond) // polling all along
			}
			for deadline := time.Now().Add(10 * time.Second); yield > 0 && host.Yields() < 3 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			switch n := host.Yields(); {
			case yield == 0 && n != 0:
				t.Errorf("Yield 0: the receiver gave its CPU away %d times", n)
			case yield > 0 && n < 3:
				t.Errorf("Yield %v: the receiver gave its CPU away %d times in 10 s of polling", yield, n)
			}
			if _, err := plugin.send.Push(7, 1, nil); err != nil { // no doorbell: it polls
				t.Fatal(err)
			}
			receive(t, got, 7, 5*time.Second, "a polling receiver did not take a message pushed without a doorbell")
			if host.Sleeps() != 0 {
				t.Errorf("the receiver slept %d times inside its polling window", host.Sleeps())
			}
		})
	}
}

// TestYieldFromEnv: OVMS_CHANNEL_YIELD sets the interval (0 included); an
// unset, malformed or negative value leaves DefaultYield.
func TestYieldFromEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": DefaultYield, "50us": 50 * time.Microsecond, "0": 0, "fast": DefaultYield, "-1ms": DefaultYield} {
		t.Setenv(EnvYield, v)
		if got := YieldFromEnv(); got != want {
			t.Errorf("%s=%q: %v, want %v", EnvYield, v, got, want)
		}
	}
}
