package ortdevice

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// warmUpModel is a one-node ONNX model (y = x + x over one float), built
// once in memory for warmUp.
func warmUpModel() ([]byte, error) {
	g := onnxmodel.NewGraph("ovms_warm_up")
	x := g.Input("x", onnxmodel.Float32, 1)
	g.Output(g.Node("Add", []onnxmodel.Value{x, x}), "y", onnxmodel.Float32, 1)
	m, err := g.Model(13)
	if err != nil {
		return nil, err
	}
	return onnxmodel.Marshal(m)
}

// warmUp pays ONNX Runtime's one-time costs of a process (its environment,
// the CPU kernel registry, the graph optimizers' registration: tens of
// milliseconds, against about one for a small model's own session) by
// creating and closing a session of a tiny model. The plugin runs it in the
// background as soon as the library is loaded, so that it overlaps the
// plugin's handshake with the core and the core's reading of the config:
// the first model's load then finds the engine ready. A model load that
// comes earlier simply shares the one-time work (ONNX Runtime initializes
// it once, under its own locks).
func warmUp(log *logrus.Entry) error {
	start := time.Now()
	data, err := warmUpModel()
	if err != nil {
		return fmt.Errorf("warm-up model: %w", err)
	}
	s, err := ort.NewSession(data, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		return fmt.Errorf("warm-up session: %w", err)
	}
	s.Close()
	log.WithField("took", time.Since(start).Round(time.Millisecond)).Debug("engine warmed up")
	return nil
}
