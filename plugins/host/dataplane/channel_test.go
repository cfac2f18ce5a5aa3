package dataplane

import (
	"os"
	"runtime"
	"strings"
	"sync"
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

// TestRingWakesOnlyASleeperNobodyPolls: a push asks for the doorbell only
// while the consumer sleeps and no poller is counted in.
func TestRingWakesOnlyASleeperNobodyPolls(t *testing.T) {
	c, err := CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.toHost
	push := func() bool {
		t.Helper()
		wake, err := r.Push(1, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Pop(func(uint64, uint32, []byte) {})
		return wake
	}
	if push() {
		t.Fatal("woke an awake consumer")
	}
	r.SetSleeping(true)
	if !push() {
		t.Fatal("did not wake a sleeping consumer")
	}
	r.addPoller(1)
	if push() {
		t.Fatal("woke a sleeping consumer while a poller polls")
	}
	r.addPoller(-1)
	if !push() {
		t.Fatal("did not wake a sleeping consumer once the poller left")
	}
	r.SetSleeping(false)
	if push() {
		t.Fatal("woke an awake consumer")
	}
}

// TestPollBesideReceive: replies taken by pollers and by a receiver that
// sleeps on its doorbell whenever it can, from several goroutines at once:
// every message arrives exactly once and none is left behind unannounced
// (a message pushed while pollers polled rings no doorbell, so the last
// poller out takes it).
func TestPollBesideReceive(t *testing.T) {
	c, err := CreateChannel(64)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, plugin := c.Host(), c.Plugin()
	host.Spin = 0
	const n = 20000
	var seen [n]atomic.Int32
	var total atomic.Int64
	fn := func(id uint64, _ uint32, _ []byte) {
		seen[id].Add(1)
		total.Add(1)
	}
	go func() { _ = host.Receive(fn) }()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				host.Poll(fn, func() bool { return false }, 50*time.Microsecond)
			}
		}()
	}
	for i := range n {
		if err := plugin.Send(uint64(i), 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for total.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if got := total.Load(); got != n {
		t.Fatalf("%d of %d messages arrived", got, n)
	}
	for i := range seen {
		if k := seen[i].Load(); k != 1 {
			t.Fatalf("message %d arrived %d times", i, k)
		}
	}
	// With no poller left, a message reaches the sleeping receiver.
	time.Sleep(10 * time.Millisecond)
	if err := plugin.Send(0, 1, nil); err != nil {
		t.Fatal(err)
	}
	for total.Load() != n+1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if total.Load() != n+1 {
		t.Fatal("a message sent after the pollers left did not wake the receiver")
	}
}

// TestPollReturnsWhenDone: Poll returns true as soon as done holds, and
// false after its spin when it never does.
func TestPollReturnsWhenDone(t *testing.T) {
	c, err := CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, plugin := c.Host(), c.Plugin()
	got := make(chan uint64, 1)
	if err := plugin.Send(42, 1, nil); err != nil {
		t.Fatal(err)
	}
	if !host.Poll(func(id uint64, _ uint32, _ []byte) { got <- id }, func() bool { return len(got) > 0 }, time.Second) {
		t.Fatal("Poll did not report the message")
	}
	if id := <-got; id != 42 {
		t.Fatalf("got message %d", id)
	}
	start := time.Now()
	if host.Poll(func(uint64, uint32, []byte) {}, func() bool { return false }, time.Millisecond) {
		t.Fatal("Poll reported done")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Poll of 1ms took %v", d)
	}
}

// TestCPUShareStarved: a poller whose thread got no CPU over a check
// interval (here: it slept) turns polling off for the whole endpoint for
// contentionBackoff; the first check only takes a baseline.
func TestCPUShareStarved(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cont contention
	share := cpuShare{every: time.Millisecond}
	if share.starved(time.Now(), &cont) {
		t.Fatal("starved at the baseline")
	}
	time.Sleep(2 * time.Millisecond) // off the CPU
	now := time.Now()
	if !share.starved(now, &cont) {
		t.Fatal("a thread that slept through the interval was not found starved")
	}
	if !cont.off(now.Add(contentionBackoff/2)) || cont.off(now.Add(2*contentionBackoff)) {
		t.Fatal("polling not off for contentionBackoff")
	}
	// After a long pause (the receiver slept on its doorbell) the next
	// check only takes a new baseline.
	fresh := cpuShare{every: time.Millisecond}
	var c2 contention
	fresh.starved(time.Now(), &c2)
	time.Sleep(10 * time.Millisecond)
	if fresh.starved(time.Now(), &c2) {
		t.Fatal("a pause longer than a stretch of polling counted as starvation")
	}
}

// TestSendLater: a message sent with SendLater does not wake a sleeping
// receiver at once; it arrives with the next message that does, or after
// the delay on its own.
func TestSendLater(t *testing.T) {
	c, err := CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, plugin := c.Host(), c.Plugin()
	plugin.Spin = 0
	got := make(chan uint64, 4)
	go func() { _ = plugin.Receive(func(id uint64, _ uint32, _ []byte) { got <- id }) }()
	for !c.toPlugin.sleeping() {
		time.Sleep(time.Millisecond)
	}
	const delay = 30 * time.Millisecond
	start := time.Now()
	if err := host.SendLater(1, 1, nil, delay); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
		if d := time.Since(start); d < delay*3/4 {
			t.Fatalf("the receiver was woken after %v, before the delay", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a message sent later never arrived")
	}
	for !c.toPlugin.sleeping() {
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	if err := host.SendLater(2, 1, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := host.Send(3, 1, nil); err != nil { // wakes the receiver: 2 comes along
		t.Fatal(err)
	}
	for _, want := range []uint64{2, 3} {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("got message %d, want %d", id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d did not come with the next one", want)
		}
	}
}
