package kserve

import (
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/clientshm"
	"github.com/ovmsgo/ovms/core/tensor"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// The tensor parameters of the system shared-memory extension.
const (
	ParamRegion = "shared_memory_region"
	ParamOffset = "shared_memory_offset"
	ParamSize   = "shared_memory_byte_size"
)

// Regions are the client regions one request holds; Release them when the
// response has been sent.
type Regions []*clientshm.Region

// Release lets the regions be unregistered again.
func (rs Regions) Release() {
	for _, r := range rs {
		r.Release()
	}
}

// HasShm reports whether tensor parameters name a shared-memory region.
func HasShm(params map[string]*kpb.InferParameter) bool {
	_, ok := params[ParamRegion]
	return ok
}

// shmRef resolves the shared-memory parameters of a tensor (what names the
// input or output, for messages) against the registry.
func shmRef(shm *clientshm.Registry, what string, params map[string]*kpb.InferParameter) (tensor.ShmRef, *clientshm.Region, error) {
	if shm == nil {
		return tensor.ShmRef{}, nil, apierr.Newf(apierr.SharedMemoryInvalid,
			"%s uses shared memory, which this server does not allow (start ovms with --allow_client_shm)", what)
	}
	name, ok := params[ParamRegion].GetParameterChoice().(*kpb.InferParameter_StringParam)
	if !ok {
		return tensor.ShmRef{}, nil, apierr.Newf(apierr.SharedMemoryInvalid, "%s: parameter '%s' must be a string", what, ParamRegion)
	}
	size, ok := intParam(params[ParamSize])
	if !ok || size < 0 {
		return tensor.ShmRef{}, nil, apierr.Newf(apierr.SharedMemoryInvalid,
			"%s: parameter '%s' needs a non-negative integer '%s'", what, ParamRegion, ParamSize)
	}
	var offset int64
	if p, present := params[ParamOffset]; present {
		if offset, ok = intParam(p); !ok || offset < 0 {
			return tensor.ShmRef{}, nil, apierr.Newf(apierr.SharedMemoryInvalid, "%s: parameter '%s' must be a non-negative integer", what, ParamOffset)
		}
	}
	reg, err := shm.Acquire(name.StringParam)
	if err != nil {
		return tensor.ShmRef{}, nil, err
	}
	if err := reg.Slice(uint64(offset), uint64(size)); err != nil {
		reg.Release()
		return tensor.ShmRef{}, nil, err
	}
	if err := reg.Holds(what, uint64(offset), uint64(size)); err != nil {
		reg.Release()
		return tensor.ShmRef{}, nil, err
	}
	return tensor.ShmRef{Region: reg, Offset: uint64(offset), Size: uint64(size)}, reg, nil
}

func intParam(p *kpb.InferParameter) (int64, bool) {
	switch v := p.GetParameterChoice().(type) {
	case *kpb.InferParameter_Int64Param:
		return v.Int64Param, true
	case *kpb.InferParameter_Uint64Param:
		return int64(v.Uint64Param), v.Uint64Param <= 1<<62
	}
	return 0, false
}

// Placements resolves requested outputs that name a shared-memory region.
func Placements(outputs []*kpb.ModelInferRequest_InferRequestedOutputTensor, shm *clientshm.Registry) (map[string]tensor.ShmRef, Regions, error) {
	var out map[string]tensor.ShmRef
	var held Regions
	for _, o := range outputs {
		if !HasShm(o.GetParameters()) {
			continue
		}
		ref, reg, err := shmRef(shm, "output "+o.GetName(), o.GetParameters())
		if err != nil {
			held.Release()
			return nil, nil, err
		}
		if out == nil {
			out = map[string]tensor.ShmRef{}
		}
		out[o.GetName()] = ref
		held = append(held, reg)
	}
	return out, held, nil
}

// OutputParameters are the parameters of an output written into shared
// memory, as a response reports them.
func OutputParameters(o *tensor.Output, placements map[string]tensor.ShmRef) map[string]*kpb.InferParameter {
	p, ok := placements[o.Name]
	if !ok || !o.Placed {
		return nil
	}
	params := map[string]*kpb.InferParameter{
		ParamRegion: {ParameterChoice: &kpb.InferParameter_StringParam{StringParam: p.Region.(*clientshm.Region).Name}},
		ParamSize:   {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: int64(o.Length)}},
	}
	if p.Offset != 0 {
		params[ParamOffset] = &kpb.InferParameter{ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: int64(p.Offset)}}
	}
	return params
}
