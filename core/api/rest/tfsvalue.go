package rest

import (
	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Names of the stateful control inputs OVMS's TFS parser special-cases.
const (
	sequenceID           = "sequence_id"
	sequenceControlInput = "sequence_control_input"
)

// parseArray is TFSRestParser::parseArray: the value at the cursor fills
// t from dimension dim. Every failure means "could not parse", so checks
// that OVMS makes before visiting the elements (the array size) are made
// after them here, which streams the array once.
func (p *tfsParser) parseArray(dim int, t *tfsTensor) bool {
	c := p.c
	switch c.Kind() {
	case rjson.KindObject:
		return p.addBinary(t)
	case rjson.KindString:
		prec, known := p.prec[t.name]
		if known && (prec == device.Uint8 || prec == device.String) && (t.dtype == device.Uint8 || t.dtype == device.String) {
			return p.addValue(t)
		}
		return false
	case rjson.KindArray:
	default:
		return false
	}
	c.EnterArray()
	if !c.NextElement() {
		return false
	}
	for len(t.dims) <= dim {
		t.dims = append(t.dims, -1)
	}
	var count int64
	switch first := c.Kind(); {
	case t.name == sequenceID || t.name == sequenceControlInput:
		if first == rjson.KindArray || !p.parseSpecial(t, &count) {
			return false
		}
	case first == rjson.KindArray:
		for {
			if !p.parseArray(dim+1, t) {
				return false
			}
			count++
			if !c.NextElement() {
				break
			}
		}
	default:
		if !p.setDTypeIfNotSet(t) {
			return false
		}
		for {
			if t.nums != nil && t.dtype != device.String && c.Kind() == rjson.KindNumber {
				n, done, ok := t.nums.addRun(c) // the common case: a run of numbers
				count += int64(n)
				if !ok {
					return false
				}
				if done {
					break
				}
				continue
			}
			if !p.addValue(t) {
				return false
			}
			count++
			if !c.NextElement() {
				break
			}
		}
	}
	if t.dims[dim] < 0 {
		t.dims[dim] = count
	}
	return t.dims[dim] == count
}

// parseSpecial reads the flat uint64 (sequence_id) or uint32
// (sequence_control_input) values of a stateful control input.
func (p *tfsParser) parseSpecial(t *tfsTensor, count *int64) bool {
	c := p.c
	if t.name == sequenceID {
		t.dtype = device.Uint64
	} else {
		t.dtype = device.Uint32
	}
	if t.nums == nil {
		t.nums = castSink(t.dtype, 0, t.ng)
	}
	for {
		if c.Kind() != rjson.KindNumber {
			return false
		}
		n := c.Number()
		if (t.dtype == device.Uint64 && !n.IsUint64()) || (t.dtype == device.Uint32 && !n.IsUint()) {
			return false
		}
		if !t.nums.add(n) {
			return false
		}
		*count++
		if !c.NextElement() {
			return true
		}
	}
}

// setDTypeIfNotSet infers I32 or FP32 from the first leaf for a name the
// model does not have.
func (p *tfsParser) setDTypeIfNotSet(t *tfsTensor) bool {
	if _, ok := p.prec[t.name]; ok {
		return true
	}
	if p.c.Kind() != rjson.KindNumber {
		return false
	}
	pos := p.c.Pos()
	n := p.c.Number()
	p.c.Seek(pos)
	switch {
	case n.IsInt():
		p.prec[t.name] = device.Int32
	case n.IsDouble():
		p.prec[t.name] = device.Float32
	default:
		return false
	}
	t.dtype = p.prec[t.name]
	return true
}

// addValue is TFSRestParser::addValue for the value at the cursor.
func (p *tfsParser) addValue(t *tfsTensor) bool {
	c := p.c
	switch c.Kind() {
	case rjson.KindObject:
		return p.addBinary(t)
	case rjson.KindString:
		if t.dtype != device.Uint8 && t.dtype != device.String {
			return false
		}
		t.dtype = device.String
		return pushString(&t.strs, cBytes(c.String()), t.sg)
	case rjson.KindTrue, rjson.KindFalse:
		if t.dtype != device.Bool {
			return false
		}
		return push(&t.bools, c.Bool(), t.ng)
	case rjson.KindNumber:
		if t.nums == nil {
			t.nums = castSink(t.dtype, sizeHint(p.shapes[t.name], &p.budget), t.ng)
			if t.nums == nil {
				return false
			}
		}
		return t.nums.add(c.Number())
	}
	return false
}

// addBinary adds a {"b64": "..."} object as one string element.
func (p *tfsParser) addBinary(t *tfsTensor) bool {
	s, ok := p.readBinary()
	if !ok {
		return false
	}
	dec, ok := decodeB64(cBytes(s))
	if !ok {
		return false
	}
	t.dtype = device.String
	return pushString(&t.strs, dec, t.sg)
}

// readBinary reads the object at the cursor and returns its "b64" string
// if it is exactly {"b64": "<string>"}.
func (p *tfsParser) readBinary() ([]byte, bool) {
	c := p.c
	if !c.EnterObject() {
		return nil, false
	}
	key, ok := c.NextMember()
	if !ok || string(key) != "b64" || c.Kind() != rjson.KindString {
		return nil, false
	}
	s := c.String()
	if _, more := c.NextMember(); more {
		return nil, false
	}
	return s, true
}

// peekBinary reports whether the value at the cursor is a b64 object,
// leaving the cursor where it was.
func (p *tfsParser) peekBinary() bool {
	pos := p.c.Pos()
	_, ok := p.readBinary()
	p.c.Seek(pos)
	return ok
}
