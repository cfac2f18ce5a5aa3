package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// MaxFile is the largest model file ReadVersion reads.
const MaxFile = 2<<30 - 1

// ReadVersion reads the model files of a version folder as ovms would
// serve them: every .onnx, .xml and .bin file directly in it (regular
// files only, read no further than their size). suffix, when not "", is
// also accepted and cut from the names (e.g. ".enc": model.onnx.enc is
// returned as model.onnx). Checking that the set is one model is the
// device plugin's job.
func ReadVersion(path, suffix string) ([]File, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("reading version folder: %w", err)
	}
	var out []File
	for _, e := range entries {
		name := e.Name()
		if suffix != "" {
			var ok bool
			if name, ok = strings.CutSuffix(name, suffix); !ok {
				continue
			}
		}
		switch strings.ToLower(filepath.Ext(name)) {
		case ".onnx", ".xml", ".bin":
		default:
			continue
		}
		data, err := modelfile.ReadFile(filepath.Join(path, e.Name()), MaxFile)
		if err != nil {
			return nil, fmt.Errorf("reading model file: %w", err)
		}
		out = append(out, File{Name: name, Data: data})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no model file (*.onnx, *.xml, *.bin%s) in %s", suffixNote(suffix), path)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func suffixNote(suffix string) string {
	if suffix == "" {
		return ""
	}
	return ", each ending in " + suffix
}
