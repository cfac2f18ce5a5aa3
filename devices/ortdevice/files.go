package ortdevice

import (
	"errors"
	"fmt"
	"os"

	"github.com/ovmsgo/ovms/plugins/modelfile"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// mapMinBytes is the size from which a version's model file (.onnx, or an
// IR's .bin) is mapped instead of read, when the plugin guards mappings
// (see loadedFiles.read). Reading copies the file into fresh memory, whose
// every 4 KiB page the kernel first faults in and zeroes: for ResNet-50's
// 100 MB about 25,000 faults, 0.3-0.6 s of CPU in these VMs, while the
// mapped file's pages come from the page cache, 16 to a fault
// (docs/performance.md, "Model files mapped, not read"). A smaller .onnx
// file is read into a buffer from readBuffers, memory already in place.
const mapMinBytes = 1 << 20

// loadedFiles holds what readModel read or mapped for one load, until the
// load no longer needs the bytes (the sessions keep copies of what they
// use): the mappings and their fault watches, and a buffer from
// readBuffers.
type loadedFiles struct {
	maps    []*modelfile.Mapping
	faulted []func() bool
	stops   []func()
	pooled  [][]byte
	paths   []string // of the mappings, for changed's message
}

// read returns the bytes of the regular file at path (at most limit
// bytes, see modelfile): mapped when the file has mapMinBytes or more and
// guard is set, so that a file cut while the engine reads it costs the
// load, not the process (the pages past the cut read as zeros and changed
// reports it); else, or when it cannot be mapped (a file system without
// mmap), read, into a buffer from readBuffers when pool is set.
func (lf *loadedFiles) read(path string, limit int64, guard shm.Guard, pool bool) ([]byte, error) {
	if guard != nil {
		if st, err := os.Stat(path); err == nil && st.Size() >= mapMinBytes {
			b, err := lf.mapFile(path, limit, guard)
			if err == nil || errors.Is(err, modelfile.ErrNotRegular) || errors.Is(err, modelfile.ErrTooLarge) {
				return b, err
			}
		}
	}
	if !pool {
		return modelfile.ReadFile(path, limit)
	}
	b, err := modelfile.ReadFileInto(path, limit, pooledBuffer())
	if err == nil {
		lf.pooled = append(lf.pooled, b)
	}
	return b, err
}

// mapFile maps path and has guard watch the mapping.
func (lf *loadedFiles) mapFile(path string, limit int64, guard shm.Guard) ([]byte, error) {
	m, err := modelfile.Map(path, limit)
	if err != nil {
		return nil, err
	}
	faulted, stop, err := guard.Watch(m.Data)
	if err != nil { // no watch slot: read it instead
		_ = m.Close()
		return nil, err
	}
	lf.maps, lf.faulted, lf.stops, lf.paths = append(lf.maps, m), append(lf.faulted, faulted), append(lf.stops, stop), append(lf.paths, path)
	if onMap != nil {
		onMap(path)
	}
	return m.Data, nil
}

// onMap, when set (by tests), is told every file a load maps.
var onMap func(path string)

// changed is an error naming the mapped file that was cut (the engine
// read zeros past the cut) or written while the load read it, nil when
// none was: a mapping shows a page as the file holds it when it is read,
// so a file rewritten in place may have loaded partly old, partly new.
func (lf *loadedFiles) changed() error {
	for i, f := range lf.faulted {
		if f() || lf.maps[i].Changed() {
			return fmt.Errorf("%s was changed (truncated or written) while it was loaded; load it again once it is complete (replace model files by a rename or a new version folder)", lf.paths[i])
		}
	}
	return nil
}

// release ends the watches, unmaps the files and gives the read buffers
// back to readBuffers; the bytes must no longer be used. A nil
// loadedFiles releases nothing.
func (lf *loadedFiles) release() {
	if lf == nil {
		return
	}
	for _, stop := range lf.stops {
		stop()
	}
	for _, m := range lf.maps {
		_ = m.Close()
	}
	for _, b := range lf.pooled {
		recycleBuffer(b)
	}
	*lf = loadedFiles{}
}
