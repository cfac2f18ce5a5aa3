package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Shapes is a parsed shape setting: input name ("" for the only input) ->
// dims, -1 dynamic.
type Shapes map[string][]int64

// ParseShape reads OVMS's shape setting: "(1,3,224,224)", "auto", or a
// JSON object of such strings per input name. Dims are numbers, -1
// (dynamic) or "min:max" ranges, which become -1 (ONNX Runtime has no
// bounded dimensions). auto is reported separately.
func ParseShape(s string) (shapes Shapes, auto bool, err error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, false, nil
	case s == "auto":
		return nil, true, nil
	case strings.HasPrefix(s, "{"):
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, false, fmt.Errorf("The provided shape is in wrong format - %s: want {\"input\": \"(1,3,224,224)\"}", s)
		}
		out := Shapes{}
		for name, v := range m {
			if v == "auto" {
				auto = true
				continue
			}
			d, err := parseDims(v)
			if err != nil {
				return nil, false, err
			}
			out[name] = d
		}
		return out, auto, nil
	}
	d, err := parseDims(s)
	if err != nil {
		return nil, false, err
	}
	return Shapes{"": d}, false, nil
}

// parseDims is OVMS's Shape::fromString.
func parseDims(s string) ([]int64, error) {
	t := strings.ReplaceAll(s, " ", "")
	bad := fmt.Errorf("The provided shape is in wrong format - %q", s)
	if len(t) < 2 || t[0] != '(' || t[len(t)-1] != ')' || strings.Trim(t, "0123456789(),-:") != "" ||
		strings.Count(t, "(") != 1 || strings.Count(t, ")") != 1 {
		return nil, bad
	}
	body := t[1 : len(t)-1]
	if body == "" {
		return []int64{}, nil
	}
	var out []int64
	for _, d := range strings.Split(body, ",") {
		if lo, hi, ok := strings.Cut(d, ":"); ok {
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil || a <= 0 || b <= a {
				return nil, bad
			}
			out = append(out, -1)
			continue
		}
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < -1 || (strings.HasPrefix(d, "-") && n != -1) {
			return nil, bad
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseLayout reads OVMS's layout setting: "NHWC:NCHW" / "NCHW" for the
// only input, or a JSON object of such strings per input name.
func ParseLayout(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "{") {
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("The provided layout is in wrong format - %s", s)
		}
		for _, v := range m {
			if err := checkLayout(v); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	if err := checkLayout(s); err != nil {
		return nil, err
	}
	return map[string]string{"": s}, nil
}

func checkLayout(s string) error {
	target, source, _ := strings.Cut(s, ":")
	for _, l := range []string{target, source} {
		if strings.Trim(strings.ReplaceAll(l, "...", ""), "NCHWD?") != "" {
			return fmt.Errorf("The provided layout is in wrong format - %q", s)
		}
	}
	if target == "" {
		return fmt.Errorf("The provided layout is in wrong format - %q", s)
	}
	return nil
}

// ParseBatchSize reads batch_size: a number, or "auto".
func ParseBatchSize(s string) (n int64, auto bool, err error) {
	switch s = strings.TrimSpace(s); s {
	case "":
		return 0, false, nil
	case "auto":
		return 0, true, nil
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("Wrong batch size parameter provided - %q", s)
	}
	return n, false, nil
}
