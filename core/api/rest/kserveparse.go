package rest

import (
	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/clientshm"
	"github.com/ovmsgo/ovms/core/tensor"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// InferRequest is a KServe REST infer body after OVMS's KFSRestParser and
// binary-input handling, before the model is known.
type InferRequest struct {
	// ID is the request id, echoed in the response when not empty.
	ID string
	// BinaryOutputs names the outputs to return as binary data.
	BinaryOutputs map[string]bool
	// Parameters are the request-level parameters when they hold Triton's
	// sequence parameters (nil otherwise).
	Parameters map[string]*kpb.InferParameter

	inputs  []*kpb.ModelInferRequest_InferInputTensor
	params  []map[string]param // per input
	excess  []uint64           // per input: values past its cap, not kept
	parts   [][][]byte         // binary inputs, as fragments of the body
	outputs []*kpb.ModelInferRequest_InferRequestedOutputTensor
	budget  *tensor.Budget
}

// NumInputs is the number of inputs in the request.
func (r *InferRequest) NumInputs() int { return len(r.inputs) }

// InputName is the name of the request's i-th input.
func (r *InferRequest) InputName(i int) string { return r.inputs[i].GetName() }

// Inputs decodes the inputs with the KServe gRPC rules (run it after the
// input count check, as OVMS does): contents and binary data may not be
// mixed, BYTES binary data holds 4-byte length prefixes, inputs may name
// client shared-memory regions of shm (nil: the extension is off). Release
// the returned regions after the response.
func (r *InferRequest) Inputs(shm *clientshm.Registry) ([]tensor.Input, kserve.Regions, error) {
	ins, held, err := kserve.DecodeInputs(r.inputs, nil, r.parts, shm, r.budget)
	if err != nil {
		return nil, nil, err
	}
	for i := range ins {
		ins[i].Excess += r.excess[i]
	}
	return ins, held, nil
}

// Outputs are the requested outputs with their parameters.
func (r *InferRequest) Outputs() []*kpb.ModelInferRequest_InferRequestedOutputTensor {
	return r.outputs
}

// param is one InferParameter value.
type param struct {
	kind byte // 's', 'b' or 'i'
	b    bool
	i    int64
	s    string
}

// proto converts parameters to their gRPC form.
func protoParams(ps map[string]param) map[string]*kpb.InferParameter {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]*kpb.InferParameter, len(ps))
	for k, p := range ps {
		switch p.kind {
		case 's':
			out[k] = &kpb.InferParameter{ParameterChoice: &kpb.InferParameter_StringParam{StringParam: p.s}}
		case 'b':
			out[k] = &kpb.InferParameter{ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: p.b}}
		default:
			out[k] = &kpb.InferParameter{ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: p.i}}
		}
	}
	return out
}

// ParseInfer parses a KServe REST infer body. jsonLength is the value of
// the Inference-Header-Content-Length header, or -1 without it: the JSON
// is body[:jsonLength] and the rest holds binary inputs. The checks and
// error codes follow OVMS's KFSRestParser and handleBinaryInputs, in their
// order: id, parameters, outputs (only the last entry is kept), inputs.
// As a superset of OVMS, INT64 and UINT64 data take the full 64-bit range.
// lim bounds what is kept: values past an input's declared shape (the
// request's, and the model's when lim knows it) are counted, not kept (the
// request then fails validation with the full count), and values past the
// memory budget fail the parse with a *tensor.MemoryError.
func ParseInfer(body []byte, jsonLength int, lim ParseLimits) (*InferRequest, error) {
	end := len(body)
	if jsonLength >= 0 {
		if jsonLength > len(body) {
			return nil, apierr.New(apierr.RestInferenceHeaderContentLengthExceeded)
		}
		end = jsonLength
	}
	return parseInferBody(body[:end], contiguous(body[end:]), lim)
}

// parseInferBody parses the JSON of an infer body; bin is its binary part.
func parseInferBody(json []byte, bin binaryPart, lim ParseLimits) (*InferRequest, error) {
	c, idx, err := checkJSON(json)
	if err != nil {
		return nil, err
	}
	r, err := parseInfer(c, bin, lim)
	if jerr := finishJSON(idx); jerr != nil {
		return nil, jerr
	}
	return r, err
}

// binaryPart is the binary part of a KServe REST body (after the JSON of
// Inference-Header-Content-Length bytes).
type binaryPart interface {
	// Len is its size.
	Len() int
	// Parts returns bytes [off, off+n) as views of the body, in order.
	Parts(off, n int) [][]byte
}

// contiguous is a binaryPart in one buffer.
type contiguous []byte

func (b contiguous) Len() int { return len(b) }

func (b contiguous) Parts(off, n int) [][]byte { return [][]byte{b[off : off+n : off+n]} }

// parseInfer parses the checked JSON of an infer body; bin is the binary
// part of the body.
func parseInfer(c *rjson.Cursor, bin binaryPart, lim ParseLimits) (*InferRequest, error) {
	if c.Kind() != rjson.KindObject {
		return nil, apierr.New(apierr.RestBodyIsNotAnObject)
	}
	r := &InferRequest{budget: lim.Budget}
	var pos [4]int
	c.FindMembers([]string{"id", "parameters", "outputs", "inputs"}, pos[:])
	binaryDefault := false
	if pos[0] >= 0 {
		c.Seek(pos[0])
		if c.Kind() != rjson.KindString {
			return nil, apierr.New(apierr.RestCouldNotParseInput)
		}
		r.ID = cString(c.String())
	}
	if pos[1] >= 0 {
		c.Seek(pos[1])
		params, err := parseParams(c)
		if err != nil {
			return nil, err
		}
		if p, ok := params["binary_data_output"]; ok && p.kind == 'b' {
			binaryDefault = p.b
		}
		_, id := params["sequence_id"]
		_, start := params["sequence_start"]
		_, end := params["sequence_end"]
		if id || start || end { // Triton's sequence parameters (stateful models)
			r.Parameters = protoParams(params)
		}
	}
	if pos[2] >= 0 {
		c.Seek(pos[2])
		if err := r.parseOutputs(c, binaryDefault); err != nil {
			return nil, err
		}
	}
	if pos[3] < 0 {
		return nil, apierr.New(apierr.RestNoInputsFound)
	}
	c.Seek(pos[3])
	if err := r.parseInputs(c, lim); err != nil {
		return nil, err
	}
	if c.Bad() {
		return nil, apierr.Newf(apierr.InternalError, "request parsing went out of step")
	}
	if err := r.binaryInputs(bin); err != nil {
		return nil, err
	}
	return r, nil
}

// parseParams reads an InferParameter map: string, bool or int32 values;
// a repeated key keeps its last value.
func parseParams(c *rjson.Cursor) (map[string]param, error) {
	if c.Kind() != rjson.KindObject {
		return nil, apierr.New(apierr.RestCouldNotParseParameters)
	}
	out := map[string]param{}
	c.EnterObject()
	for {
		key, ok := c.NextMember()
		if !ok {
			return out, nil
		}
		var p param
		switch c.Kind() {
		case rjson.KindString:
			p.kind, p.s = 's', string(cString(c.String()))
		case rjson.KindTrue, rjson.KindFalse:
			p.kind, p.b = 'b', c.Bool()
		case rjson.KindNumber:
			n := c.Number()
			if !n.IsInt() {
				return nil, apierr.New(apierr.RestCouldNotParseParameters)
			}
			p.kind, p.i = 'i', n.Int64()
		default:
			return nil, apierr.New(apierr.RestCouldNotParseParameters)
		}
		out[cString(key)] = p
	}
}

// parseOutputs reads the requested outputs: their names (the response
// holds only these), binary_data and shared-memory parameters. OVMS keeps
// only the last entry and returns every output; ovms honours the list.
func (r *InferRequest) parseOutputs(c *rjson.Cursor, binaryDefault bool) error {
	if c.Kind() != rjson.KindArray {
		return apierr.New(apierr.RestCouldNotParseInput)
	}
	c.EnterArray()
	for c.NextElement() {
		if c.Kind() != rjson.KindObject {
			return apierr.New(apierr.RestCouldNotParseOutput)
		}
		var pos [2]int
		c.FindMembers([]string{"name", "parameters"}, pos[:])
		after := c.Pos()
		if pos[0] < 0 {
			return apierr.New(apierr.RestCouldNotParseOutput)
		}
		c.Seek(pos[0])
		if c.Kind() != rjson.KindString {
			return apierr.New(apierr.RestCouldNotParseOutput)
		}
		out := &kpb.ModelInferRequest_InferRequestedOutputTensor{Name: cString(c.String())}
		binary := binaryDefault
		if pos[1] >= 0 {
			c.Seek(pos[1])
			params, err := parseParams(c)
			if err != nil {
				return err
			}
			if p, ok := params["binary_data"]; ok && p.kind == 'b' {
				binary = p.b
			}
			out.Parameters = protoParams(params)
		}
		if binary {
			if r.BinaryOutputs == nil {
				r.BinaryOutputs = map[string]bool{}
			}
			r.BinaryOutputs[out.Name] = true
		}
		r.outputs = append(r.outputs, out)
		c.Seek(after)
	}
	return nil
}

func (r *InferRequest) parseInputs(c *rjson.Cursor, lim ParseLimits) error {
	if c.Kind() != rjson.KindArray {
		return apierr.New(apierr.RestCouldNotParseInput)
	}
	start := c.Pos()
	c.EnterArray()
	if !c.NextElement() {
		return apierr.New(apierr.RestNoInputsFound)
	}
	count := -1 // counted only when needed
	budget := newBudget(c)
	for {
		in, params, excess, err := parseInput(c, &budget, lim, func() bool {
			if count < 0 {
				count = countElements(c, start)
			}
			return count == 1
		})
		if err != nil {
			return err
		}
		r.inputs = append(r.inputs, in)
		r.params = append(r.params, params)
		r.excess = append(r.excess, excess)
		if !c.NextElement() {
			return nil
		}
	}
}

// countElements counts the elements of the array at start, keeping the
// cursor where it was.
func countElements(c *rjson.Cursor, start int) int {
	pos := c.Pos()
	defer c.Seek(pos)
	c.Seek(start)
	c.EnterArray()
	n := 0
	for c.NextElement() {
		n++
		c.Skip()
	}
	return n
}

// parseInput is KFSRestParser::parseInput for the object at the cursor;
// the cursor ends after it.
// budget bounds the values preallocated for data (see sizeHint); lim
// what is kept (the values past the declared shape are counted in excess).
func parseInput(c *rjson.Cursor, budget *int, lim ParseLimits, onlyOne func() bool) (in *kpb.ModelInferRequest_InferInputTensor, params map[string]param, excess uint64, err error) {
	in, params, g, err := parseInputGate(c, budget, lim, onlyOne)
	if g != nil {
		excess = g.excess
	}
	return in, params, excess, err
}

func parseInputGate(c *rjson.Cursor, budget *int, lim ParseLimits, onlyOne func() bool) (*kpb.ModelInferRequest_InferInputTensor, map[string]param, *gate, error) {
	fail := apierr.New(apierr.RestCouldNotParseInput)
	if c.Kind() != rjson.KindObject {
		return nil, nil, nil, fail
	}
	var pos [5]int
	c.FindMembers([]string{"name", "shape", "datatype", "parameters", "data"}, pos[:])
	after := c.Pos()
	defer c.Seek(after)
	in := &kpb.ModelInferRequest_InferInputTensor{}
	if pos[0] < 0 {
		return nil, nil, nil, fail
	}
	if c.Seek(pos[0]); c.Kind() != rjson.KindString {
		return nil, nil, nil, fail
	}
	in.Name = cString(c.String())
	if pos[1] < 0 {
		return nil, nil, nil, fail
	}
	if c.Seek(pos[1]); c.Kind() != rjson.KindArray {
		return nil, nil, nil, fail
	}
	c.EnterArray()
	in.Shape = []int64{}
	for c.NextElement() {
		if c.Kind() != rjson.KindNumber {
			return nil, nil, nil, fail
		}
		n := c.Number()
		if !n.IsInt() || n.Int64() < 0 {
			return nil, nil, nil, fail
		}
		in.Shape = append(in.Shape, n.Int64())
	}
	if pos[2] < 0 {
		return nil, nil, nil, fail
	}
	if c.Seek(pos[2]); c.Kind() != rjson.KindString {
		return nil, nil, nil, fail
	}
	in.Datatype = cString(c.String())
	var params map[string]param
	if pos[3] >= 0 {
		c.Seek(pos[3])
		var err error
		if params, err = parseParams(c); err != nil {
			return nil, nil, nil, err
		}
		in.Parameters = protoParams(params)
	}
	if pos[4] < 0 {
		if _, shm := params[kserve.ParamRegion]; shm {
			return in, params, nil, nil
		}
		if _, ok := params["binary_data_size"]; !ok && in.Datatype == "BYTES" &&
			(!onlyOne() || len(in.Shape) != 1 || in.Shape[0] != 1) {
			return nil, nil, nil, fail
		}
		return in, params, nil, nil
	}
	c.Seek(pos[4])
	if c.Kind() != rjson.KindArray {
		return nil, nil, nil, fail
	}
	if in.Datatype == "FP16" || in.Datatype == "BF16" {
		return nil, nil, nil, fail
	}
	in.Contents = &kpb.InferTensorContents{}
	g := newGate(in.Name, min(declared(in.Shape), lim.modelCap(in.Name, in.Datatype == "BYTES")), lim.Budget)
	if err := parseData(c, in.Datatype, in.Contents, sizeHint(in.Shape, budget), g); err != nil {
		return nil, nil, nil, err
	}
	return in, params, g, nil
}

// declared is the number of elements a request shape declares, or
// unbounded when the product overflows.
func declared(shape []int64) int64 {
	if n := tensor.Shape(shape).Elements(); n >= 0 {
		return n
	}
	return unbounded
}
