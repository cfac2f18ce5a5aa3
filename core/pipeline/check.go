package pipeline

import (
	"context"
	"strings"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/plugins/device"
)

// offline is what Check knows without loading anything: the models and
// libraries a config file names.
type offline struct {
	models    map[string]config.Model
	libraries map[string]bool
}

// Describe implements Models from the config's entries only.
func (o *offline) Describe(name string, _ int64) (*Model, error) {
	m, ok := o.models[name]
	if !ok {
		return nil, apierr.New(apierr.ModelNameMissing)
	}
	return &Model{Dynamic: m.BatchSize == "auto" || strings.Contains(m.Shape, "auto"), Stateful: m.Stateful}, nil
}

// Acquire implements Models; Check never runs a request.
func (o *offline) Acquire(context.Context, string, int64) (Runner, error) {
	return nil, apierr.New(apierr.NotImplemented)
}

// Check validates a pipeline definition offline (`ovms validate`), with
// OVMS's texts, for the rules that need no model metadata: request and
// response nodes, the dynamic demultiplexer rule, node names, references
// to nodes, models (by name, in models), libraries (by name, in libraries)
// and data sources, gathers, cycles, unconnected nodes, LIFO nesting, and
// models with auto shapes or stateful ones. Model inputs and outputs,
// shapes and precisions need the loaded models and are checked when
// serving.
func Check(cfg config.Pipeline, models []config.Model, libraries []config.NodeLibrary) error {
	off := &offline{models: map[string]config.Model{}, libraries: map[string]bool{}}
	for _, m := range models {
		if _, dup := off.models[m.Name]; !dup {
			off.models[m.Name] = m
		}
	}
	for _, l := range libraries {
		off.libraries[l.Name] = true
	}
	_, err := validateWith(context.Background(), cfg, off, nil, off)
	return err
}

// configInfo is a node's inputs and outputs as its config connects them
// (types and shapes unknown), for offline checks.
func configInfo(c config.Node) *device.ModelInfo {
	info := &device.ModelInfo{}
	for _, in := range c.Inputs {
		info.Inputs = append(info.Inputs, device.TensorInfo{Name: in.Name, DType: device.Invalid})
	}
	for _, o := range c.Outputs {
		info.Outputs = append(info.Outputs, device.TensorInfo{Name: o.DataItem, DType: device.Invalid})
	}
	return info
}
