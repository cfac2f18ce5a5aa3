package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

var le = binary.LittleEndian

// EnvChannel tells the plugin where its data-plane channel is:
// "fd=4,plugin_bell=5,host_bell=6,slots=1024".
const EnvChannel = "OVMS_CHANNEL"

// Child descriptor numbers of the channel (after the arena's 3).
const (
	childChannelFD = 4
	childPluginBel = 5
	childHostBell  = 6
)

// DefaultSpin is how long a receiver polls its ring after the last message
// before it sleeps on its doorbell. Waking a sleeping process costs tens of
// microseconds in a VM; a request stream a client keeps busy (a reply, then
// the next request within this window) never pays the wake-up.
const DefaultSpin = 1 * time.Millisecond

// DefaultYield is how often the plugin's polling receiver gives its CPU to
// other processes (sched_yield); between those polls it yields only to its
// own goroutines (runtime.Gosched). A poller that never yields holds its CPU
// against the threads whose work it waits for (the client and the core
// turning an answer into the next request): when the kernel wakes one of
// them on the poller's CPU it waits for the poller's time slice to end.
// With no other thread ready the call returns at once (about a
// microsecond). The plugin yields only while its requests run long (its
// server decides, with YieldFor); the host's endpoint never does.
const DefaultYield = 20 * time.Microsecond

// EnvYield overrides DefaultYield in the plugin (a Go duration; "0" polls
// yielding only to the plugin's own goroutines).
const EnvYield = "OVMS_CHANNEL_YIELD"

// YieldFromEnv is the polling receivers' yield interval: EnvYield when it
// is set to a duration of 0 or more, else DefaultYield.
func YieldFromEnv() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(EnvYield)); err == nil && d >= 0 {
		return d
	}
	return DefaultYield
}

// ErrClosed is returned by a closed endpoint.
var ErrClosed = errors.New("channel closed")

// Channel is the data plane between host and plugin: two rings in one
// shared memfd (host to plugin, plugin to host) and an eventfd doorbell per
// direction, rung only when the receiver has announced it is asleep.
type Channel struct {
	file       *os.File
	mem        []byte
	slots      int
	toPlugin   *Ring
	toHost     *Ring
	pluginBell *os.File
	hostBell   *os.File
	closed     atomic.Bool
	// users counts the calls touching the rings right now (Send, Receive,
	// Nudge); the mapping is released by Close or by the last of them to
	// leave after Close, never under a caller.
	users    atomic.Int64
	unmapped atomic.Bool
}

// enter registers a caller about to touch the rings; false once closed.
func (c *Channel) enter() bool {
	c.users.Add(1)
	if c.closed.Load() {
		c.leave()
		return false
	}
	return true
}

// leave ends what enter began, unmapping a closed channel's rings when
// the last caller is gone.
func (c *Channel) leave() {
	if c.users.Add(-1) == 0 && c.closed.Load() {
		c.unmap()
	}
}

func (c *Channel) unmap() {
	if c.unmapped.Swap(true) || c.mem == nil {
		return
	}
	_ = unix.Munmap(c.mem)
}

// CreateChannel makes a channel with rings of slots entries (host side).
func CreateChannel(slots int) (*Channel, error) {
	size := 2 * RingBytes(slots)
	fd, err := unix.MemfdCreate("ovms-channel", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating channel memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:ovms-channel")
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing channel: %w", err)
	}
	pb, err1 := eventfd()
	hb, err2 := eventfd()
	if err := errors.Join(err1, err2); err != nil {
		f.Close()
		return nil, err
	}
	return mapChannel(f, pb, hb, slots, true)
}

func eventfd() (*os.File, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("creating eventfd: %w", err)
	}
	return os.NewFile(uintptr(fd), "eventfd"), nil
}

func mapChannel(f, pluginBell, hostBell *os.File, slots int, init bool) (*Channel, error) {
	size := 2 * RingBytes(slots)
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mapping channel: %w", err)
	}
	c := &Channel{file: f, mem: mem, slots: slots, pluginBell: pluginBell, hostBell: hostBell}
	half := RingBytes(slots)
	if c.toPlugin, err = NewRing(mem[:half], slots, init); err == nil {
		c.toHost, err = NewRing(mem[half:], slots, init)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Files are the descriptors to hand to the child after the arena, in the
// order the child expects them (fds 4, 5, 6).
func (c *Channel) Files() []*os.File { return []*os.File{c.file, c.pluginBell, c.hostBell} }

// Env is the EnvChannel value for the child.
func (c *Channel) Env() string {
	return fmt.Sprintf("fd=%d,plugin_bell=%d,host_bell=%d,slots=%d", childChannelFD, childPluginBel, childHostBell, c.slots)
}

// OpenChannelFromEnv maps the channel described by EnvChannel (plugin
// side). It returns nil, nil when the variable is not set.
func OpenChannelFromEnv() (*Channel, error) {
	v := os.Getenv(EnvChannel)
	if v == "" {
		return nil, nil
	}
	vals := map[string]int{}
	for _, kv := range strings.Split(v, ",") {
		k, s, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("channel layout %q: %s: %w", v, k, err)
		}
		vals[k] = n
	}
	open := func(key string) (*os.File, error) {
		fd, ok := vals[key]
		if !ok {
			return nil, fmt.Errorf("channel layout %q: no %s", v, key)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, fmt.Errorf("channel %s fd %d: %w", key, fd, err)
		}
		return os.NewFile(uintptr(fd), key), nil
	}
	f, err := open("fd")
	if err != nil {
		return nil, err
	}
	pb, err1 := open("plugin_bell")
	hb, err2 := open("host_bell")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return mapChannel(f, pb, hb, vals["slots"], false)
}

// Host is the host's end: it sends to the plugin and receives from it.
func (c *Channel) Host() *Endpoint {
	return &Endpoint{c: c, send: c.toPlugin, sendBell: c.pluginBell, recv: c.toHost, recvBell: c.hostBell, Spin: DefaultSpin}
}

// Plugin is the plugin's end.
func (c *Channel) Plugin() *Endpoint {
	return &Endpoint{c: c, send: c.toHost, sendBell: c.hostBell, recv: c.toPlugin, recvBell: c.pluginBell, Spin: DefaultSpin, Yield: DefaultYield}
}

// Close closes the descriptors (blocked receivers return ErrClosed) and
// unmaps the rings as soon as no Send, Receive or Nudge is using them: at
// once, or when the last one returns. Every plugin start, failed or not,
// makes a channel, so a crash loop must not keep their mappings.
func (c *Channel) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, f := range []*os.File{c.pluginBell, c.hostBell, c.file} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	if c.users.Load() == 0 {
		c.unmap()
	}
	return errors.Join(errs...)
}

// Endpoint is one side of a channel. Send may be called from many
// goroutines; Receive from one.
type Endpoint struct {
	c                  *Channel
	send, recv         *Ring
	sendBell, recvBell *os.File
	// Spin is how long Receive polls after the last message before it
	// sleeps on the doorbell, when SpinFor is not set.
	Spin time.Duration
	// SpinFor, when set, replaces Spin: it is asked before every poll how
	// long polling should go on after the last message (0: sleep now).
	SpinFor func() time.Duration
	// Yield is how often Receive, while it polls, gives its CPU to other
	// processes (sched_yield) instead of only to this process's goroutines;
	// 0: never.
	Yield time.Duration
	// YieldFor, when set, replaces Yield: it is asked before every poll.
	YieldFor func() time.Duration
	// kicked is when Kick last opened a polling window (since epoch).
	kicked atomic.Int64
	// rings and kicks count the doorbells Send rang and the calls of Kick,
	// sleeps the times Receive slept on its doorbell, yields the times it
	// gave its CPU to other processes (for tests and diagnosis).
	rings, kicks, sleeps, yields atomic.Uint64
}

// epoch is the monotonic origin of Endpoint.kicked.
var epoch = time.Now()

// Kick opens Receive's polling window now, as a message arriving would, and
// wakes Receive if it sleeps on its doorbell. A sender that expects its
// answer soon calls it after sending, so that the answer is polled for
// instead of rung for (the wake-up then overlaps the other side's work).
func (e *Endpoint) Kick() {
	e.kicks.Add(1)
	e.kicked.Store(int64(time.Since(epoch)))
	e.Nudge()
}

// Rings reports how many times Send has rung the other side's doorbell.
func (e *Endpoint) Rings() uint64 { return e.rings.Load() }

// Kicks reports how many times Kick was called.
func (e *Endpoint) Kicks() uint64 { return e.kicks.Load() }

// Yields is how many times Receive gave its CPU to other processes while
// it polled.
func (e *Endpoint) Yields() uint64 { return e.yields.Load() }

// Sleeps reports how many times Receive slept on its doorbell (a read of
// it, including one that returned at once on a doorbell rung earlier).
func (e *Endpoint) Sleeps() uint64 { return e.sleeps.Load() }

var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// Send enqueues a message and wakes the receiver if it sleeps. A full ring
// makes the sender wait for room (the receiver is awake then: it only
// sleeps on an empty ring).
func (e *Endpoint) Send(id uint64, kind uint32, payload []byte) error {
	if !e.c.enter() {
		return ErrClosed
	}
	defer e.c.leave()
	for {
		if e.c.closed.Load() {
			return ErrClosed
		}
		wake, err := e.send.Push(id, kind, payload)
		if errors.Is(err, ErrRingFull) {
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if err != nil {
			return err
		}
		if wake {
			e.rings.Add(1)
			if _, err := e.sendBell.Write(one); err != nil && !errors.Is(err, unix.EAGAIN) {
				return fmt.Errorf("ringing doorbell: %w", err)
			}
		}
		return nil
	}
}

// Receive calls fn for every message, in order, until the endpoint is
// closed. After a message (or a Kick) it keeps polling for Spin (or
// SpinFor), and only then sleeps on the doorbell: a request or reply that
// follows soon costs no wake-up.
func (e *Endpoint) Receive(fn func(id uint64, kind uint32, payload []byte)) error {
	if !e.c.enter() {
		return ErrClosed
	}
	defer e.c.leave()
	var buf [8]byte
	last := time.Since(epoch)
	yielded := last
	for {
		if e.c.closed.Load() {
			return ErrClosed
		}
		if e.recv.Pop(fn) {
			last = time.Since(epoch)
			continue
		}
		spin := e.Spin
		if e.SpinFor != nil {
			spin = e.SpinFor()
		}
		kicked := time.Duration(e.kicked.Load())
		if now := time.Since(epoch); now-max(last, kicked) < spin {
			yield := e.Yield
			if e.YieldFor != nil {
				yield = e.YieldFor()
			}
			if yield > 0 && now-yielded >= yield {
				// A raw call: the Go runtime need not hand this
				// thread's P to another thread for it.
				yielded = now
				e.yields.Add(1)
				_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			} else {
				runtime.Gosched()
			}
			continue
		}
		e.recv.SetSleeping(true)
		// A message, a Kick that saw the flag still 0 and so did not ring,
		// or a SpinFor that changed its mind (its Nudge saw the flag still
		// 0) since the checks above: poll again instead of sleeping.
		if !e.recv.Empty() || time.Duration(e.kicked.Load()) != kicked ||
			(e.SpinFor != nil && time.Since(epoch)-max(last, kicked) < e.SpinFor()) {
			e.recv.SetSleeping(false)
			continue
		}
		e.sleeps.Add(1)
		_, err := e.recvBell.Read(buf[:])
		e.recv.SetSleeping(false)
		last = time.Since(epoch)
		if err != nil {
			return ErrClosed
		}
	}
}

// Nudge wakes this endpoint's own Receive if it sleeps, so that it starts
// polling again (SpinFor changed its mind, e.g. the plugin became idle).
func (e *Endpoint) Nudge() {
	if !e.c.enter() {
		return
	}
	defer e.c.leave()
	if e.recv.word(offSleeping).Load() != 0 {
		_, _ = e.recvBell.Write(one)
	}
}
