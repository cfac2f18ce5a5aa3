// Command testmodels writes the project's test and benchmark ONNX models
// as a model repository: <out>/<model>/1/model.onnx for each model in
// Models, and <out>/<model>/1/model.xml + model.bin for the OpenVINO IR
// twins in IRModels. Files whose bytes would not change are left alone.
//
//	go run ./scripts/testmodels -out DIR [-bench]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
)

func main() {
	out := flag.String("out", "", "model repository directory to write (required)")
	bench := flag.Bool("bench", false, "also write the benchmark models (resnet50, add_one_1x3x1024x1024, small_cnn, scale_cnn_tiny, scale_cnn_small, rnn_stateful_256, resnet50_ir and its twin resnet50_ir_onnx)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := generate(*out, *bench, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testmodels:", err)
		os.Exit(1)
	}
}

// generate writes every model (bench ones only if bench is set) under dir,
// printing one line to w for each file written.
func generate(dir string, bench bool, w io.Writer) error {
	for _, m := range Models {
		if m.Bench && !bench {
			continue
		}
		model, err := m.Build()
		if err != nil {
			return fmt.Errorf("model %s: %w", m.Name, err)
		}
		data, err := om.Marshal(model)
		if err != nil {
			return fmt.Errorf("model %s: %w", m.Name, err)
		}
		path := filepath.Join(dir, m.Name, "1", "model.onnx")
		same, err := unchanged(path, data)
		if err != nil {
			return fmt.Errorf("model %s: %w", m.Name, err)
		}
		if same {
			continue
		}
		if err := om.WriteBytes(path, data); err != nil {
			return fmt.Errorf("model %s: %w", m.Name, err)
		}
		fmt.Fprintf(w, "wrote %s (%d bytes)\n", path, len(data))
	}
	if err := generateIR(dir, w); err != nil {
		return err
	}
	if bench {
		return generateBenchIR(dir, w)
	}
	return nil
}

// unchanged reports whether the file at path already holds exactly data.
func unchanged(path string, data []byte) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check existing file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != int64(len(data)) {
		return false, nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("check existing file: %w", err)
	}
	return bytes.Equal(old, data), nil
}
