package modelmanager

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// A request that crashed its plugin twice is refused for poisonTTL when
// sent again (the same inputs, byte for byte): a client that retries it
// cannot keep taking down a plugin that other models share. A version
// remembers at most maxPoison such requests (the oldest goes first); the
// list goes with the version (a reload starts afresh).
const (
	poisonTTL = 10 * time.Minute
	maxPoison = 16
)

// fingerprint identifies a request by its inputs as the plugin gets them:
// names, element types, shapes (sig) and a SHA-256 over those and the
// bytes in the arena (inputs in a client's shared memory count by their
// region and place, not their bytes).
type fingerprint struct {
	sig   string
	sum   [32]byte
	done  bool
	arena *shm.Arena
	refs  []device.TensorRef
}

// newFingerprint describes refs; the sum is computed when first needed,
// while the arena holds the inputs.
func newFingerprint(arena *shm.Arena, refs []device.TensorRef) fingerprint {
	var b strings.Builder
	for _, r := range refs {
		fmt.Fprintf(&b, "%s:%d%v;", r.Name, r.DType, r.Shape)
	}
	return fingerprint{sig: b.String(), arena: arena, refs: refs}
}

// compute hashes the inputs' bytes (once).
func (f *fingerprint) compute() {
	if f.done {
		return
	}
	h := sha256.New()
	h.Write([]byte(f.sig))
	for _, r := range f.refs {
		if r.Region != 0 {
			h.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint32(nil, r.Region), r.Offset), r.Length))
			continue
		}
		if b, err := f.arena.Bytes(r.Offset, r.Length); err == nil {
			h.Write(b)
		}
	}
	h.Sum(f.sum[:0])
	f.done, f.arena, f.refs = true, nil, nil
}

// ID is the fingerprint as logs and errors show it.
func (f *fingerprint) ID() string {
	f.compute()
	return hex.EncodeToString(f.sum[:8])
}

// shapes describes the inputs for logs.
func (f *fingerprint) shapes() string {
	if f == nil {
		return ""
	}
	return f.sig
}

// poisonList is a version's list of refused requests.
type poisonList struct {
	n       atomic.Int32 // len(entries), read without the lock
	mu      sync.Mutex
	entries []poisonEntry
}

type poisonEntry struct {
	sig   string
	sum   [32]byte
	until time.Time
}

// active reports whether any request is refused (the only cost on the
// request path while none is).
func (p *poisonList) active() bool { return p.n.Load() > 0 }

// add refuses f's request for poisonTTL.
func (p *poisonList) add(f *fingerprint) {
	f.compute()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.entries) >= maxPoison {
		p.entries = p.entries[1:]
	}
	p.entries = append(p.entries, poisonEntry{sig: f.sig, sum: f.sum, until: time.Now().Add(poisonTTL)})
	p.n.Store(int32(len(p.entries)))
}

// refuse returns the error for a request on the list (expired entries are
// dropped); the inputs are hashed only when their shapes match an entry.
func (p *poisonList) refuse(v *Version, f *fingerprint) error {
	if !p.active() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	kept := p.entries[:0]
	var hit *poisonEntry
	for i := range p.entries {
		e := p.entries[i]
		if now.After(e.until) {
			continue
		}
		kept = append(kept, e)
		if e.sig == f.sig {
			f.compute()
			if e.sum == f.sum {
				hit = &kept[len(kept)-1]
			}
		}
	}
	p.entries = kept
	p.n.Store(int32(len(kept)))
	if hit == nil {
		return nil
	}
	return apierr.Newf(apierr.InferenceError, "model %s version %d refuses this request until %s: the same request (fingerprint %s) crashed its device plugin twice",
		v.Model, v.Number, hit.until.UTC().Format(time.RFC3339), f.ID())
}
