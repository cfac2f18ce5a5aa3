package bench

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// shmDir is where Linux keeps POSIX shared-memory objects: shm_open("/k")
// is open("/dev/shm/k").
var shmDir = "/dev/shm"

// shmAlign is the alignment of each tensor in a region.
const shmAlign = 64

// shmRef places one tensor in a registered region.
type shmRef struct {
	name   string // tensor name
	region string // registered region name
	offset int64
	size   int64
}

// shmPlan places every input (in input order) and output in regions.
type shmPlan struct {
	in  []shmRef
	out []shmRef
}

// shmRegion is one POSIX shared-memory object created and mapped by the
// client, registered whole as one region.
type shmRegion struct {
	name string // region name, also the object name without the slash
	key  string // shm_open key: "/" + name
	mem  []byte
	// registered is set once the server accepted the region.
	registered bool
}

// newRegionName returns a region name unique to this process and call.
func newRegionName(role string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("ovms_bench_%d_%s_%s", os.Getpid(), hex.EncodeToString(b[:]), role)
}

// createRegion creates and maps a shared-memory object of size bytes (at
// least one page), readable and writable by this user only.
func createRegion(name string, size int64) (*shmRegion, error) {
	size = max(size, int64(os.Getpagesize()))
	path := filepath.Join(shmDir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create shared memory: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("size shared memory %s: %w", path, err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("map shared memory %s: %w", path, err)
	}
	return &shmRegion{name: name, key: "/" + name, mem: mem}, nil
}

// close unmaps and unlinks the object.
func (r *shmRegion) close() error {
	err := syscall.Munmap(r.mem)
	if rmErr := os.Remove(filepath.Join(shmDir, r.name)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("unlink shared memory: %w", rmErr))
	}
	return err
}

// alignUp rounds n up to a multiple of shmAlign.
func alignUp(n int64) int64 { return (n + shmAlign - 1) / shmAlign * shmAlign }

// layout places tensors of the given sizes back to back, aligned; it
// returns the offsets and the total size.
func layout(sizes []int64) ([]int64, int64) {
	offs := make([]int64, len(sizes))
	var total int64
	for i, s := range sizes {
		offs[i] = total
		total = alignUp(total + s)
	}
	return offs, total
}

// errShmOff is the error of a server that does not take client shared
// memory regions.
var errShmOff = errors.New("the server does not accept client shared memory (start ovms with --allow_client_shm)")

// shmRegistrar registers regions with a server (the KServe system
// shared-memory extension over gRPC or REST).
type shmRegistrar interface {
	register(r *shmRegion) error
	unregister(name string) error
}

// shmSession owns the regions of one run: created, filled, registered,
// and on close unregistered, unmapped and unlinked.
type shmSession struct {
	reg     shmRegistrar
	regions []*shmRegion
	plan    shmPlan
}

// newShmSession creates an input region holding the inputs' data and an
// output region sized for outputs (name -> byte size, in the given order),
// and registers both.
func newShmSession(reg shmRegistrar, inputs []*inputTensor, outNames []string, outSizes []int64) (s *shmSession, err error) {
	s = &shmSession{reg: reg}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
			s = nil
		}
	}()
	inSizes := make([]int64, len(inputs))
	for i, t := range inputs {
		inSizes[i] = int64(len(t.kserveRaw()))
	}
	inOffs, inTotal := layout(inSizes)
	in, err := createRegion(newRegionName("input"), inTotal)
	if err != nil {
		return s, err
	}
	s.regions = append(s.regions, in)
	for i, t := range inputs {
		copy(in.mem[inOffs[i]:], t.kserveRaw())
		s.plan.in = append(s.plan.in, shmRef{name: t.Name, region: in.name, offset: inOffs[i], size: inSizes[i]})
	}
	outOffs, outTotal := layout(outSizes)
	out, err := createRegion(newRegionName("output"), outTotal)
	if err != nil {
		return s, err
	}
	s.regions = append(s.regions, out)
	for i, name := range outNames {
		s.plan.out = append(s.plan.out, shmRef{name: name, region: out.name, offset: outOffs[i], size: outSizes[i]})
	}
	for _, r := range s.regions {
		if err := reg.register(r); err != nil {
			return s, err
		}
		r.registered = true
	}
	return s, nil
}

// close unregisters the regions it registered and removes every region.
func (s *shmSession) close() error {
	var errs []error
	for _, r := range s.regions {
		if r.registered {
			if err := s.reg.unregister(r.name); err != nil {
				errs = append(errs, err)
			}
		}
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.regions = nil
	return errors.Join(errs...)
}
