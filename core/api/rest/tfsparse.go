package rest

import (
	"sort"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Order is the layout of a TFS predict request; the response mirrors it.
type Order int

// The TFS request layouts.
const (
	// OrderRow is the "instances" layout; the response has "predictions".
	OrderRow Order = iota + 1
	// OrderColumn is the "inputs" layout; the response has "outputs".
	OrderColumn
)

// tfsTensor is the parser's view of one request tensor (OVMS fills a
// TensorProto per name).
type tfsTensor struct {
	name  string
	dtype tensor.DataType // current proto dtype; device.Invalid = DT_INVALID
	dims  []int64         // -1 marks a dimension not sized yet
	nums  numSink
	strs  [][]byte
	bools []bool
	// scalar marks a rank-0 value given as a bare JSON value (a superset
	// of OVMS, which requires arrays and so cannot feed scalar inputs).
	scalar bool
	// ng bounds the numbers and booleans kept, sg the strings.
	ng, sg *gate
}

// tfsParser is OVMS's TFSRestParser over a checked document.
type tfsParser struct {
	c       *rjson.Cursor
	tensors map[string]*tfsTensor
	order   []*tfsTensor
	prec    map[string]tensor.DataType // model precisions plus inferred ones
	scalars map[string]bool            // model inputs of rank 0
	shapes  map[string][]int64         // model input shapes, to size values
	budget  int                        // for sizeHint
	nModel  int
	lim     ParseLimits
	// aliased holds the model inputs when one of them has aliases (other
	// names requests may use), else nil.
	aliased []device.TensorInfo
}

// ParsePredict parses a TFS REST predict body for a model with the given
// inputs, with OVMS's TFSRestParser rules and error codes: row
// ("instances") or column ("inputs") layout, named or not, {"b64": ...}
// strings, dtypes from the model (numbers cast without range checks) and
// I32/FP32 inferred for names the model does not have. As a superset of
// OVMS, BOOL inputs take JSON true/false, FP16/BF16 inputs take numbers
// (converted, not reinterpreted), STRING inputs take JSON strings and
// rank-0 inputs take a bare value in the column layout ({"inputs": {"x": 7}}).
// lim bounds what the parser keeps: values past an input's static shape
// are counted, not kept (the request then fails validation with the full
// count), and values past the memory budget fail the parse with a
// *tensor.MemoryError.
func ParsePredict(body []byte, inputs []device.TensorInfo, lim ParseLimits) (*tensor.Request, Order, error) {
	c, idx, err := checkJSON(body)
	if err != nil {
		return nil, 0, err
	}
	req, order, err := parsePredict(c, inputs, lim)
	if jerr := finishJSON(idx); jerr != nil {
		return nil, 0, jerr
	}
	return req, order, err
}

// parsePredict parses the checked JSON of a predict body.
func parsePredict(c *rjson.Cursor, inputs []device.TensorInfo, lim ParseLimits) (*tensor.Request, Order, error) {
	var err error
	p := &tfsParser{c: c, tensors: map[string]*tfsTensor{}, prec: map[string]tensor.DataType{},
		scalars: map[string]bool{}, shapes: map[string][]int64{}, budget: newBudget(c), nModel: len(inputs), lim: lim}
	sorted := append([]device.TensorInfo(nil), inputs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, in := range sorted {
		if len(in.Aliases) > 0 {
			p.aliased = inputs
		}
		p.prec[in.Name] = in.DType
		p.scalars[in.Name] = len(in.Shape) == 0
		p.shapes[in.Name] = in.Shape
		p.tensor(in.Name).dtype = in.DType
	}
	if p.c.Kind() != rjson.KindObject {
		return nil, 0, apierr.New(apierr.RestBodyIsNotAnObject)
	}
	var pos [2]int
	p.c.FindMembers([]string{"instances", "inputs"}, pos[:])
	var order Order
	switch {
	case pos[0] >= 0 && pos[1] >= 0:
		err = apierr.New(apierr.RestPredictUnknownOrder)
	case pos[0] >= 0:
		order, err = OrderRow, p.parseRow(pos[0])
	case pos[1] >= 0:
		order, err = OrderColumn, p.parseColumn(pos[1])
	default:
		err = apierr.New(apierr.RestPredictUnknownOrder)
	}
	if err == nil && p.c.Bad() {
		err = apierr.Newf(apierr.InternalError, "request parsing went out of step")
	}
	if err != nil {
		if me := p.memoryError(); me != nil {
			return nil, 0, me
		}
		return nil, 0, err
	}
	return p.request(), order, nil
}

// memoryError is the first request budget failure, if any.
func (p *tfsParser) memoryError() error {
	for _, t := range p.order {
		for _, g := range []*gate{t.ng, t.sg} {
			if g.err != nil {
				return g.err
			}
		}
	}
	return nil
}

// tensor returns the proto of a name, creating it as the proto map does.
func (p *tfsParser) tensor(name string) *tfsTensor {
	if t, ok := p.tensors[name]; ok {
		return t
	}
	t := &tfsTensor{name: name,
		ng: newGate(name, p.lim.modelCap(name, false), p.lim.Budget),
		sg: newGate(name, p.lim.modelCap(name, true), p.lim.Budget)}
	t.sg.size = tensor.StringOverhead
	p.tensors[name] = t
	p.order = append(p.order, t)
	return t
}

// named is the tensor a request names: a model input by its name or one
// of its aliases (the tensor keeps the served name), else a new one.
func (p *tfsParser) named(name string) *tfsTensor {
	if t, ok := p.tensors[name]; ok {
		return t
	}
	for _, in := range p.aliased {
		for _, a := range in.Aliases {
			if a == name {
				return p.tensor(in.Name)
			}
		}
	}
	return p.tensor(name)
}

func (p *tfsParser) parseRow(pos int) error {
	c := p.c
	c.Seek(pos)
	if c.Kind() != rjson.KindArray {
		return apierr.New(apierr.RestInstancesNotAnArray)
	}
	c.EnterArray()
	if !c.NextElement() {
		return apierr.New(apierr.RestNoInstancesFound)
	}
	first := c.Kind()
	switch {
	case first == rjson.KindObject && !p.peekBinary():
		for {
			if c.Kind() != rjson.KindObject {
				return apierr.New(apierr.RestNamedInstanceNotAnObject)
			}
			if !p.parseInstance() {
				return apierr.New(apierr.RestCouldNotParseInstance)
			}
			if !c.NextElement() {
				break
			}
		}
	case first == rjson.KindArray || first == rjson.KindNumber || first == rjson.KindObject || first == rjson.KindString ||
		((first == rjson.KindTrue || first == rjson.KindFalse) && p.singleBoolInput()):
		return p.parseNoNamed(pos, apierr.RestCouldNotParseInstance)
	default:
		return apierr.New(apierr.RestInstancesNotNamedOrNonamed)
	}
	p.removeUnused()
	var batch int64
	for _, t := range p.order {
		if t.dims == nil {
			continue
		}
		if batch == 0 {
			batch = t.dims[0]
		} else if t.dims[0] != batch {
			return apierr.New(apierr.RestInstancesBatchSizeDiffer)
		}
	}
	return nil
}

// singleBoolInput reports the one case where JSON booleans start a
// no-named row (a superset of OVMS, which has no BOOL branch).
func (p *tfsParser) singleBoolInput() bool {
	return p.nModel == 1 && p.order[0].dtype == device.Bool
}

func (p *tfsParser) parseColumn(pos int) error {
	c := p.c
	c.Seek(pos)
	switch c.Kind() {
	case rjson.KindArray:
		return p.parseNoNamed(pos, apierr.RestCouldNotParseInput)
	case rjson.KindObject:
	default:
		return apierr.New(apierr.RestInputsNotAnObject)
	}
	c.EnterObject()
	n := 0
	for {
		key, ok := c.NextMember()
		if !ok {
			break
		}
		n++
		t := p.named(cString(key))
		if p.scalars[t.name] && c.Kind() != rjson.KindArray && c.Kind() != rjson.KindObject {
			if !p.setDTypeIfNotSet(t) || !p.addValue(t) {
				return apierr.New(apierr.RestCouldNotParseInput)
			}
			t.scalar = true
			continue
		}
		if !p.parseArray(0, t) {
			return apierr.New(apierr.RestCouldNotParseInput)
		}
	}
	if n == 0 {
		return apierr.New(apierr.RestNoInputsFound)
	}
	p.removeUnused()
	return nil
}

// parseNoNamed parses the whole array at pos as the model's only input.
func (p *tfsParser) parseNoNamed(pos int, code apierr.Code) error {
	if len(p.order) != 1 || p.lim.Named {
		return apierr.New(apierr.RestInputNotPreallocated)
	}
	p.c.Seek(pos)
	if !p.parseArray(0, p.order[0]) {
		return apierr.New(code)
	}
	return nil
}

func (p *tfsParser) parseInstance() bool {
	c := p.c
	c.EnterObject()
	n := 0
	for {
		key, ok := c.NextMember()
		if !ok {
			return n > 0
		}
		n++
		t := p.named(cString(key))
		if len(t.dims) == 0 {
			t.dims = append(t.dims, 0)
		}
		t.dims[0]++
		if !p.parseArray(1, t) {
			return false
		}
	}
}

// removeUnused drops tensors that got no dimensions.
func (p *tfsParser) removeUnused() {
	kept := p.order[:0]
	for _, t := range p.order {
		if len(t.dims) > 0 || t.scalar {
			kept = append(kept, t)
		} else {
			delete(p.tensors, t.name)
		}
	}
	p.order = kept
}

// request turns the parsed tensors into request inputs.
func (p *tfsParser) request() *tensor.Request {
	req := &tensor.Request{API: tensor.TFS, Inputs: make([]tensor.Input, 0, len(p.order))}
	for _, t := range p.order {
		in := tensor.Input{Name: t.name, DType: t.dtype, DTypeName: tfsDTypeName(t.dtype), Shape: tensor.Shape(t.dims),
			Excess: t.ng.excess + t.sg.excess}
		switch {
		case t.dtype == device.String:
			in.Strings = t.strs
		case t.dtype == device.Bool:
			in.Values = tensor.Bools(t.bools)
		case t.nums != nil:
			in.Values = t.nums.values()
		default:
			in.Values = tensor.Numbers[float32](nil)
		}
		req.Inputs = append(req.Inputs, in)
	}
	return req
}

// tfsDTypeName is OVMS's getDataTypeAsString for request dtypes.
func tfsDTypeName(dt tensor.DataType) string {
	switch dt {
	case device.Uint32, device.BFloat16, device.Invalid:
		return "INVALID"
	}
	return tensor.PrecisionName(dt)
}
