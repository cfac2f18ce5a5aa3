// This file turns an IR's <rt_info><model_info> into the JSON object OVMS
// shows as "rt_info" in KServe REST model metadata.

package irtoonnx

import (
	"bytes"
	"encoding/json"

	"github.com/ovmsgo/ovms/devices/irmodel"
)

// RTInfoJSON is the JSON object OVMS writes as "rt_info" in the KServe REST
// metadata of m: {"model_info": {...}} from the net's <rt_info><model_info>,
// an element with a value attribute becoming a string and any other an
// object of its children (OpenVINO reads the section so, and OVMS writes
// the resulting map with its keys sorted); nil when m has no model_info.
// Other rt_info sections (framework, conversion_parameters, ...) are not
// shown, as in OVMS.
func RTInfoJSON(m *irmodel.Model) []byte {
	mi := m.RTInfo.Child("model_info")
	if mi == nil {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // rapidjson escapes only what JSON requires
	if err := enc.Encode(map[string]any{"model_info": rtInfoMap(mi)}); err != nil {
		return nil
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// rtInfoMap is the map OpenVINO reads from an rt_info element's children.
func rtInfoMap(n *irmodel.Node) map[string]any {
	out := map[string]any{}
	for i := range n.Children {
		c := &n.Children[i]
		if v, ok := rtInfoValue(c); ok {
			out[c.XMLName.Local] = v
		} else {
			out[c.XMLName.Local] = rtInfoMap(c)
		}
	}
	return out
}

// rtInfoValue is the value attribute of n, if it has one.
func rtInfoValue(n *irmodel.Node) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == "value" {
			return a.Value, true
		}
	}
	return "", false
}
