package bench

import (
	"encoding/json"
	"errors"
	"fmt"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// close releases shared memory (unregistered first), connections and idle
// HTTP connections.
func (t *target) close() error {
	var errs []error
	if t.shm != nil {
		errs = append(errs, t.shm.close())
		t.shm = nil
	}
	for _, c := range t.conns {
		errs = append(errs, c.Close())
	}
	t.conns = nil
	if t.http != nil {
		t.http.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// tensorBytes is the data size of a tensor of shape and datatype, or -1
// when it depends on the data (BYTES) or the datatype is unknown.
func tensorBytes(datatype string, shape []int64) int64 {
	dt, err := lookupDType(datatype)
	if err != nil || dt.size == 0 {
		return -1
	}
	return elements(shape) * int64(dt.size)
}

// kserveGRPCSizes checks a ModelInferResponse and returns the size of each
// output: its raw_output_contents, or its shape's size. With shm, outputs
// must carry no data (the server wrote them into the region).
func kserveGRPCSizes(resp *kpb.ModelInferResponse, shm bool) ([]outputSize, error) {
	if len(resp.Outputs) == 0 {
		return nil, errors.New("the response has no outputs")
	}
	if shm && len(resp.RawOutputContents) > 0 {
		for _, raw := range resp.RawOutputContents {
			if len(raw) > 0 {
				return nil, errors.New("the server returned output data instead of writing it into the shared-memory region")
			}
		}
	}
	out := make([]outputSize, len(resp.Outputs))
	for i, o := range resp.Outputs {
		size := tensorBytes(o.Datatype, o.Shape)
		if i < len(resp.RawOutputContents) && !shm {
			size = int64(len(resp.RawOutputContents[i]))
		} else if o.Datatype == "BYTES" && o.Contents != nil {
			size = 0
			for _, s := range o.Contents.BytesContents {
				size += 4 + int64(len(s))
			}
		}
		if size < 0 {
			return nil, fmt.Errorf("output %s: cannot size datatype %s", o.Name, o.Datatype)
		}
		out[i] = outputSize{name: o.Name, size: size}
	}
	return out, nil
}

// kserveRESTSizes checks a KServe REST infer response (JSON, or JSON then
// binary data when jsonLen >= 0) and returns the size of each output.
func kserveRESTSizes(body []byte, jsonLen int, shm bool) ([]outputSize, error) {
	if jsonLen >= 0 {
		body = body[:jsonLen]
	}
	var resp struct {
		Outputs []struct {
			Name       string
			Datatype   string
			Shape      []int64
			Parameters map[string]any
			Data       json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	if len(resp.Outputs) == 0 {
		return nil, errors.New("the response has no outputs")
	}
	out := make([]outputSize, len(resp.Outputs))
	for i, o := range resp.Outputs {
		size := tensorBytes(o.Datatype, o.Shape)
		if n, ok := o.Parameters["binary_data_size"].(float64); ok {
			if shm {
				return nil, errors.New("the server returned output data instead of writing it into the shared-memory region")
			}
			size = int64(n)
		} else if len(o.Data) > 0 && shm {
			return nil, errors.New("the server returned output data instead of writing it into the shared-memory region")
		} else if o.Datatype == "BYTES" && len(o.Data) > 0 {
			var strs []string
			if err := json.Unmarshal(o.Data, &strs); err != nil {
				return nil, fmt.Errorf("output %s: %w", o.Name, err)
			}
			size = 0
			for _, s := range strs {
				size += 4 + int64(len(s))
			}
		}
		if size < 0 {
			return nil, fmt.Errorf("output %s: cannot size datatype %s", o.Name, o.Datatype)
		}
		out[i] = outputSize{name: o.Name, size: size}
	}
	return out, nil
}

// checkTFSREST checks that a TF Serving REST answer holds outputs.
func checkTFSREST(body []byte) error {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	if resp["outputs"] == nil && resp["predictions"] == nil {
		return errors.New("the response has no outputs")
	}
	return nil
}
