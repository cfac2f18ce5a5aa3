package modelmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// mappingFile is OVMS's per-version tensor renaming file.
const mappingFile = "mapping_config.json"

// maxMappingFile bounds what is read of it (a regular file only, so that
// a FIFO or a device there cannot block or flood the core).
const maxMappingFile = 1 << 20

// names renames a version's tensors between the model (the plugin's names)
// and the API (mapping_config.json's aliases). A nil *names renames
// nothing.
type names struct {
	inReal, outReal map[string]string // alias -> model name
	outAlias        map[string]string // model name -> alias
}

// in is the model's name of API input a.
func (n *names) in(a string) string {
	if n == nil {
		return a
	}
	if r, ok := n.inReal[a]; ok {
		return r
	}
	return a
}

// out is the model's name of API output a.
func (n *names) out(a string) string {
	if n == nil {
		return a
	}
	if r, ok := n.outReal[a]; ok {
		return r
	}
	return a
}

// outs maps API output names to the model's.
func (n *names) outs(as []string) []string {
	if n == nil || len(n.outReal) == 0 || len(as) == 0 {
		return as
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = n.out(a)
	}
	return out
}

// alias is the API name of model output r.
func (n *names) alias(r string) string {
	if n == nil {
		return r
	}
	if a, ok := n.outAlias[r]; ok {
		return a
	}
	return r
}

// readMapping reads dir/mapping_config.json ({"inputs": {"model name":
// "alias"}, "outputs": {...}}, both optional, nothing else) and renames
// info's tensors in place. No file means no renaming; a file that cannot
// be used, or an entry naming a tensor the model lacks, is reported and
// skipped (the version loads with the names it has). Unnamed outputs
// become out_<index>, as in OVMS.
func readMapping(dir string, info *device.ModelInfo) (*names, error) {
	defer cleanAliases(info)
	n := &names{inReal: map[string]string{}, outReal: map[string]string{}, outAlias: map[string]string{}}
	for i := range info.Outputs {
		if info.Outputs[i].Name == "" {
			info.Outputs[i].Name = fmt.Sprintf("out_%d", i)
		}
	}
	data, err := modelfile.ReadFile(filepath.Join(dir, mappingFile), maxMappingFile)
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", mappingFile, err)
	}
	var m struct {
		Inputs  map[string]string `json:"inputs"`
		Outputs map[string]string `json:"outputs"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return n, fmt.Errorf("%s is not valid (want {\"inputs\": {\"name\": \"alias\"}, \"outputs\": {...}}): %w", mappingFile, err)
	}
	var missing []error
	rename := func(ts []device.TensorInfo, mapping, real map[string]string, what string) {
		for model, alias := range mapping {
			found := false
			for i := range ts {
				if ts[i].Name == model {
					ts[i].Name, found = alias, true
				}
			}
			if !found {
				missing = append(missing, fmt.Errorf("%s renames %s %q, which the model does not have", mappingFile, what, model))
				continue
			}
			real[alias] = model
		}
	}
	rename(info.Inputs, m.Inputs, n.inReal, "input")
	rename(info.Outputs, m.Outputs, n.outReal, "output")
	for a, r := range n.outReal {
		n.outAlias[r] = a
	}
	return n, errors.Join(missing...)
}

// cleanAliases drops the tensor aliases (other names from the plugin, see
// device.TensorInfo) that could mislead: one equal to a name the version
// serves (after mapping_config.json), and one that two tensors of the same
// side claim. Requests may use the others for their tensor.
func cleanAliases(info *device.ModelInfo) {
	for _, ts := range [][]device.TensorInfo{info.Inputs, info.Outputs} {
		var count map[string]int
		for i := range ts {
			if len(ts[i].Aliases) == 0 {
				continue
			}
			if count == nil {
				count = map[string]int{}
				for j := range ts {
					count[ts[j].Name] += 2 // a served name is never an alias
				}
			}
			for _, a := range ts[i].Aliases {
				count[a]++
			}
		}
		if count == nil {
			continue
		}
		for i := range ts {
			if len(ts[i].Aliases) == 0 {
				continue
			}
			kept := make([]string, 0, len(ts[i].Aliases))
			for _, a := range ts[i].Aliases {
				if count[a] == 1 {
					kept = append(kept, a)
				}
			}
			if len(kept) == 0 {
				kept = nil
			}
			ts[i].Aliases = kept
		}
	}
}
