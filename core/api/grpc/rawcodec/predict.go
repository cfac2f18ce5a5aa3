package rawcodec

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"

	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// predictInputsField is PredictRequest.inputs, a map (its entries' and
// TensorProto's field numbers are lend.go's).
const predictInputsField = 2

// unmarshalLargePredict decodes a large PredictRequest with splitPredict,
// or the standard way when splitPredict does not take the message.
func (c Codec) unmarshalLargePredict(data mem.BufferSlice, req *tfspb.PredictRequest) error {
	content, rest, err := splitPredict(data)
	if err != nil {
		return c.std.Unmarshal(data, req)
	}
	if err := gproto.Unmarshal(rest, req); err != nil {
		return err
	}
	if len(content) == 0 {
		return nil
	}
	hold(req, &Raw{Content: content, data: data})
	return nil
}

// splitPredict walks an encoded PredictRequest spread over data's buffers:
// the tensor_content of each input is returned as fragments by input name,
// and the message without them is re-encoded into rest. It follows what
// protobuf does with repeated fields: an input given twice is the last
// entry, a map entry's key is its last key, its value fields merge (so the
// last tensor_content among them is the one), and a field of the wrong wire
// type is an unknown field, kept in rest.
func splitPredict(data mem.BufferSlice) (content map[string][][]byte, rest []byte, err error) {
	r := newReader(data)
	for !r.eof() {
		num, typ, err := r.tag()
		if err != nil {
			return nil, nil, err
		}
		if num != predictInputsField || typ != protowire.BytesType {
			if rest, err = r.copyField(rest, num, typ); err != nil {
				return nil, nil, err
			}
			continue
		}
		frags, err := r.bytes()
		if err != nil {
			return nil, nil, err
		}
		key, tc, entry, err := splitEntry(frags)
		if err != nil {
			return nil, nil, err
		}
		if tc != nil {
			if content == nil {
				content = make(map[string][][]byte)
			}
			content[key] = tc
		} else {
			delete(content, key)
		}
		rest = appendBytesField(rest, num, [][]byte{entry})
	}
	return content, rest, nil
}

// splitEntry splits one entry of the inputs map: its key, the fragments of
// its value's tensor_content (nil when it has none) and the entry without
// that field.
func splitEntry(frags [][]byte) (key string, tc [][]byte, entry []byte, err error) {
	r := &reader{bufs: frags}
	for !r.eof() {
		num, typ, err := r.tag()
		if err != nil {
			return "", nil, nil, err
		}
		if typ != protowire.BytesType || (num != mapKeyField && num != mapValueField) {
			if entry, err = r.copyField(entry, num, typ); err != nil {
				return "", nil, nil, err
			}
			continue
		}
		f, err := r.bytes()
		if err != nil {
			return "", nil, nil, err
		}
		if num == mapKeyField {
			key = string(join(f))
			entry = appendBytesField(entry, num, f)
			continue
		}
		value, c, err := splitTensor(f)
		if err != nil {
			return "", nil, nil, err
		}
		if c != nil {
			tc = c
		}
		entry = appendBytesField(entry, num, [][]byte{value})
	}
	return key, tc, entry, nil
}

// splitTensor takes the tensor_content out of an encoded TensorProto: its
// fragments (the last one given; nil when there is none; empty, not nil,
// when it is empty) and the message without it.
func splitTensor(frags [][]byte) (value []byte, tc [][]byte, err error) {
	r := &reader{bufs: frags}
	for !r.eof() {
		num, typ, err := r.tag()
		if err != nil {
			return nil, nil, err
		}
		if num != tensorContentField || typ != protowire.BytesType {
			if value, err = r.copyField(value, num, typ); err != nil {
				return nil, nil, err
			}
			continue
		}
		if tc, err = r.bytes(); err != nil {
			return nil, nil, err
		}
		if tc == nil {
			tc = [][]byte{}
		}
	}
	return value, tc, nil
}

// join returns the fragments as one slice (a key: small).
func join(frags [][]byte) []byte {
	if len(frags) == 1 {
		return frags[0]
	}
	var b []byte
	for _, f := range frags {
		b = append(b, f...)
	}
	return b
}
