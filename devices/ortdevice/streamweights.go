package ortdevice

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// minSharedInitializer is the smallest initializer the streams of a model
// share; smaller ones are left to each session.
const minSharedInitializer = 64 << 10

// minSharingStreams is the fewest streams whose sessions share weights
// (see streamWeights).
const minSharingStreams = 2

// streamWeights are the weights that the sessions of one model's streams
// share: the large initializers that only MatMul and Gemm read as their
// weights (input B), copied once into memory of the plugin's own that
// every stream's session reads in place (ONNX Runtime's AddInitializer),
// and one prepacked weights container, so that ONNX Runtime's kernels
// prepack them once for all streams.
//
// Without it every stream's session holds the model's weights: N streams,
// N copies (OpenVINO's streams share theirs). ONNX Runtime frees its own
// copy of a weight once a kernel has prepacked it, but cannot free one it
// was given, so sharing holds a MatMul or Gemm weight twice (as given and
// prepacked) whatever the streams: as much as two streams hold without it,
// less from three on. Streams running at once then also read one copy of
// the weights instead of one each, which a model whose time goes into
// reading its weights feels (docs/devices.md: small_cnn at 2 streams served
// a median 1.14x the requests a second, at 8 streams 1.26-1.46x). A model
// with one stream creates no shared weights (it would hold twice what it
// holds alone) but uses those another model shares. Other initializers
// are not shared: graph optimizations rewrite many of them into tensors of
// the session's own (a Conv's weights into the blocked layout, a fused
// batch normalization), which would leave the shared copy as one more, as
// measured on ResNet-50 with every large initializer shared
// (docs/performance.md, "Fifteenth session on issue 16").
type streamWeights struct {
	values    []*ort.Value
	inits     []onnxmodel.RawInitializer // names, types and dims; Raw is the shared copy
	prepacked *ort.PrepackedWeights
	bytes     int64
	refs      int // models using them, under their weightsSet's lock
}

// weightsSet keeps the streamWeights in use by weights, so that every
// model with the same weights (versions with identical files, a model and
// a reshaped copy of it) shares one copy: a model with streams creates
// them, and any model, one stream or more, whose weights are already
// there uses them (it then holds nothing of them of its own).
type weightsSet struct {
	mu   sync.Mutex
	m    map[uint64][]*streamWeights
	seed maphash.Seed
}

// shareStreamWeights gives the sessions created with opts the shared
// MatMul and Gemm weights of model (see streamWeights): those already
// shared by a model with the same weights, or, for a model of streams
// sessions (minSharingStreams or more), a new shared copy. It returns them
// and the function that gives them back once the sessions are closed; nil
// and opts untouched when nothing is shared.
func (s *weightsSet) shareStreamWeights(model []byte, streams int, opts *ort.SessionOptions, log *logrus.Entry) (w *streamWeights, release func()) {
	if opts.CUDA { // CUDA sessions copy the weights to the device each
		return nil, nil
	}
	s.mu.Lock()
	if s.m == nil {
		s.m = map[uint64][]*streamWeights{}
		s.seed = maphash.MakeSeed()
	}
	none := len(s.m) == 0
	s.mu.Unlock()
	if streams < minSharingStreams && none {
		return nil, nil
	}
	inits, err := onnxmodel.Initializers(model, minSharedInitializer)
	if err != nil {
		return nil, nil // the engine will say what is wrong with the model, if anything
	}
	inits = externalBytes(inits, opts.ExternalFiles)
	inits = slices.DeleteFunc(inits, func(in onnxmodel.RawInitializer) bool { return !prepackedWeight(in.Uses) || !dense(in) })
	if len(inits) == 0 {
		return nil, nil
	}
	k := s.key(inits) // outside the lock: loads run in parallel
	// Found and counted in one hold of the lock: a set in s.m is always in
	// use (refs >= 1), so it cannot be released meanwhile. The copy is made
	// outside the lock; a load that made one for weights another load put
	// there meanwhile drops its own.
	var made *streamWeights
	for w == nil {
		s.mu.Lock()
		if w = s.find(k, inits); w == nil && made != nil {
			w = made
			s.m[k] = append(s.m[k], w)
		}
		if w != nil {
			w.refs++
		}
		s.mu.Unlock()
		if w != nil {
			break
		}
		if streams < minSharingStreams {
			return nil, nil
		}
		if made, err = newStreamWeights(inits); err != nil {
			log.WithError(err).Warn("the model's sessions do not share their weights")
			return nil, nil
		}
	}
	if made != nil && made != w {
		made.close()
	}
	for i, v := range w.values {
		opts.Initializers = append(opts.Initializers, ort.Initializer{Name: w.inits[i].Name, Value: v})
	}
	if opts.PrepackedWeights == nil {
		opts.PrepackedWeights = w.prepacked
	}
	var once sync.Once
	return w, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if w.refs--; w.refs == 0 {
				s.m[k] = slices.DeleteFunc(s.m[k], func(e *streamWeights) bool { return e == w })
				if len(s.m[k]) == 0 {
					delete(s.m, k)
				}
				w.close()
			}
		})
	}
}

// key hashes the initializers' names, types, dims and bytes.
func (s *weightsSet) key(inits []onnxmodel.RawInitializer) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var n [8]byte
	for _, in := range inits {
		binary.LittleEndian.PutUint64(n[:], uint64(len(in.Name)))
		h.Write(n[:])
		h.WriteString(in.Name)
		binary.LittleEndian.PutUint64(n[:], uint64(in.DataType))
		h.Write(n[:])
		for _, d := range in.Dims {
			binary.LittleEndian.PutUint64(n[:], uint64(d))
			h.Write(n[:])
		}
		binary.LittleEndian.PutUint64(n[:], uint64(len(in.Raw)))
		h.Write(n[:])
		h.Write(in.Raw)
	}
	return h.Sum64()
}

// find returns the weights held under key k that are exactly inits (a
// hash match is checked byte for byte: weights are never mixed up), or
// nil. Call it with s.mu held.
func (s *weightsSet) find(k uint64, inits []onnxmodel.RawInitializer) *streamWeights {
	for _, w := range s.m[k] {
		if len(w.inits) != len(inits) {
			continue
		}
		same := true
		for i, in := range inits {
			h := w.inits[i]
			if h.Name != in.Name || h.DataType != in.DataType || !slices.Equal(h.Dims, in.Dims) || !bytes.Equal(h.Raw, in.Raw) {
				same = false
				break
			}
		}
		if same {
			return w
		}
	}
	return nil
}

// newStreamWeights copies inits (dense, see dense) into memory of the
// plugin's own, with a prepacked weights container for them.
func newStreamWeights(inits []onnxmodel.RawInitializer) (*streamWeights, error) {
	w := &streamWeights{}
	for _, in := range inits {
		v, err := ort.NewTensorCopy(ort.ElementType(in.DataType), in.Dims, in.Raw)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("initializer %s: %w", in.Name, err)
		}
		w.values = append(w.values, v)
		w.inits = append(w.inits, onnxmodel.RawInitializer{Name: in.Name, DataType: in.DataType, Dims: slices.Clone(in.Dims), Raw: v.Bytes()})
		w.bytes += int64(len(in.Raw))
	}
	var err error
	if w.prepacked, err = ort.NewPrepackedWeights(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// dense reports whether an initializer's bytes are exactly a dense tensor
// of its type and dims (what ONNX Runtime would accept from the model).
func dense(in onnxmodel.RawInitializer) bool {
	t := ort.ElementType(in.DataType)
	if !t.Valid() || t.ByteLen(1) == 0 {
		return false
	}
	n := int64(1)
	for _, d := range in.Dims {
		if d < 0 || (d > 0 && n > math.MaxInt64/d) {
			return false
		}
		n *= d
	}
	return n <= math.MaxInt64/8 && t.ByteLen(n) == int64(len(in.Raw))
}

// externalBytes points the Raw of the initializers with external data at
// their bytes in the model's external files held in memory (an IR model's
// weights); one whose file is not among them, or whose range falls
// outside it, is dropped (the engine reads, or refuses, it as usual).
func externalBytes(inits []onnxmodel.RawInitializer, files []ort.ExternalFile) []onnxmodel.RawInitializer {
	out := inits[:0]
	for _, in := range inits {
		if e := in.External; e != nil {
			in.Raw = nil
			for _, f := range files {
				if f.Name == e.Location && e.Offset <= int64(len(f.Data)) && e.Length <= int64(len(f.Data))-e.Offset {
					in.Raw = f.Data[e.Offset : e.Offset+e.Length]
					break
				}
			}
			if in.Raw == nil {
				continue
			}
		}
		out = append(out, in)
	}
	return out
}

// prepackedWeight reports whether every use of an initializer is as the
// weights (B, input 1) of an ONNX MatMul or Gemm, whose CPU kernels
// prepack it.
func prepackedWeight(uses []onnxmodel.Use) bool {
	for _, u := range uses {
		if u.Domain != "" || u.Input != 1 || (u.Op != "MatMul" && u.Op != "Gemm") {
			return false
		}
	}
	return len(uses) > 0
}

// close frees the shared weights; the sessions that read them must be
// closed first.
func (w *streamWeights) close() {
	for _, v := range w.values {
		v.Close()
	}
	w.values, w.inits = nil, nil
	if w.prepacked != nil {
		w.prepacked.Close()
		w.prepacked = nil
	}
}
