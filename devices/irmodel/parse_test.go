package irmodel_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// small is Parameter x [1,?] -> Add(x, Const [1]) -> Result.
func small() *irtest.Net {
	n := irtest.New("small")
	x := n.Parameter("x", irmodel.F32, "1,?", "x", "x:0")
	one := n.F32([]int64{1}, 1)
	y := n.Op("Add", "opset1", nil, []irtest.Out{x, one}, irtest.Port{Type: irmodel.F32, Shape: "1,-1", Names: "y"})
	n.Result(y[0], "y/sink_port_0")
	return n
}

func TestParseReadsLayersPortsAndWeights(t *testing.T) {
	x, bin := small().Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 11 || len(m.Layers) != 4 {
		t.Fatalf("IR %d, %d layers", m.IRVersion, len(m.Layers))
	}
	p := m.Parameters()[0].Outputs[0]
	if p.Name() != "x" || len(p.Names) != 2 || p.Names[1] != "x:0" || p.Type != irmodel.F32 || p.Shape.String() != "1,?" {
		t.Fatalf("parameter port %+v", p)
	}
	var c *irmodel.Layer
	for _, l := range m.Layers {
		if l.Type == "Const" {
			c = l
		}
	}
	if c == nil || len(c.Data) != 4 || &c.Data[0] != &bin[0] {
		t.Fatal("the constant does not slice the .bin")
	}
	add := m.Results()[0].Inputs[0].Source.Layer
	if add.Type != "Add" || add.Inputs[1].Source.Layer != c {
		t.Fatalf("edges not connected: %+v", add)
	}
}

func TestParseShapes(t *testing.T) {
	for in, want := range map[string]string{
		"1,3,224,224": "1,3,224,224", "?,3": "?,3", "-1,3": "?,3", "1..8, 3": "1..8,3", "1, 1": "1,1",
		"..8": "..8", "2..": "2..", "": "",
	} {
		s, dyn, err := irmodel.ParseShape(in)
		if err != nil || dyn || s.String() != want {
			t.Errorf("ParseShape(%q) = %v %v %v, want %s", in, s, dyn, err, want)
		}
	}
	if s, dyn, err := irmodel.ParseShape("..."); err != nil || !dyn || s != nil {
		t.Errorf("dynamic rank: %v %v %v", s, dyn, err)
	}
	for _, bad := range []string{"a", "1,,2", "-2", "5..3"} {
		if _, _, err := irmodel.ParseShape(bad); err == nil {
			t.Errorf("ParseShape(%q) accepted", bad)
		}
	}
}

func TestSplitNames(t *testing.T) {
	got := irmodel.SplitNames(`input,input:0,a\,b`)
	if len(got) != 3 || got[0] != "input" || got[1] != "input:0" || got[2] != "a,b" {
		t.Fatalf("%q", got)
	}
}

// TestParseRejectsBadIR: each broken file fails with an error that names
// what is wrong and where.
func TestParseRejectsBadIR(t *testing.T) {
	x, bin := small().Bytes()
	cases := []struct {
		name     string
		xml, bin []byte
		want     string
	}{
		{"truncated bin", x, bin[:2], "layer 'const_1' (id 1, Const): offset 0 + size 4 is past the end of the weights file (2 bytes)"},
		{"offset past the end", bytes.Replace(x, []byte(`offset="0"`), []byte(`offset="100"`), 1), bin, "offset 100 + size 4 is past the end"},
		{"2 GB size", bytes.Replace(x, []byte(`size="4"`), []byte(`size="2147483648"`), 1), bin, "offset 0 + size 2147483648 is past the end"},
		{"size not the shape's", bytes.Replace(x, []byte(`size="4"`), []byte(`size="2"`), 1), bin, "size 2 does not match f32[1] (4 bytes)"},
		{"missing edge", dropLine(x, `to-layer="2" to-port="1"`), bin, "layer 'add_2' (id 2, Add) input port 1 has no edge"},
		{"unknown element type", bytes.Replace(x, []byte(`element_type="f32" offset`), []byte(`element_type="f7" offset`), 1), bin, `unknown element type "f7"`},
		{"IR v7", bytes.Replace(x, []byte(`version="11"`), []byte(`version="7"`), 1), bin, `unsupported IR version "7"`},
		{"edge to nowhere", bytes.Replace(x, []byte(`to-layer="2" to-port="1"`), []byte(`to-layer="9" to-port="1"`), 1), bin, `edge names layer "9" port "1", which does not exist`},
		{"entity bomb", append([]byte(`<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>`), bytes.Replace(x[bytes.IndexByte(x, '\n')+1:], []byte(`name="small"`), []byte(`name="&b;"`), 1)...), bin, "not an IR file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := irmodel.Parse(tc.xml, tc.bin)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseFindsCycles(t *testing.T) {
	n := irtest.New("cycle")
	x := n.Parameter("x", irmodel.F32, "1")
	a := n.Op("Relu", "opset1", nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "1"})
	b := n.Op("Relu", "opset1", nil, []irtest.Out{a[0]}, irtest.Port{Type: irmodel.F32, Shape: "1"})
	n.Result(b[0], "out")
	xml, bin := n.Bytes()
	// Feed the first Relu from the second instead of from x.
	xml = bytes.Replace(xml, []byte(`from-layer="0" from-port="0" to-layer="1"`), []byte(`from-layer="2" from-port="1" to-layer="1"`), 1)
	_, err := irmodel.Parse(xml, bin)
	if err == nil || !strings.Contains(err.Error(), "the graph has a cycle through layer 'relu_1'") {
		t.Fatalf("got %v", err)
	}
}

func dropLine(b []byte, substr string) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(substr)) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// TestParameterShapeAttribute: a Parameter's shape attribute gives ranges
// its port's dims lose, and "..." a dynamic rank that flows to the ports
// IR writes without dims.
func TestParameterShapeAttribute(t *testing.T) {
	n := irtest.New("ranks")
	x := n.Parameter("x", irmodel.F32, "1..8,3")
	r := n.Parameter("r", irmodel.F32, "...")
	y := n.Op("Relu", "opset1", nil, []irtest.Out{r}, irtest.Port{Type: irmodel.F32})
	s := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i64"}, []irtest.Out{y[0]}, irtest.Port{Type: irmodel.I64, Shape: "-1"})
	n.Result(x, "x_out")
	n.Result(y[0], "y_out")
	n.Result(s[0], "s_out")
	xml, bin := n.Bytes()
	m, err := irmodel.Parse(xml, bin)
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Parameters()
	if got := ps[0].Outputs[0].Shape.String(); got != "1..8,3" {
		t.Errorf("x: %s", got)
	}
	if !ps[1].Outputs[0].DynamicRank {
		t.Error("r: the rank should be dynamic")
	}
	relu := m.Results()[1].Inputs[0].Source
	if !relu.DynamicRank {
		t.Error("Relu of a dynamic-rank input: its dim-less port should be of dynamic rank")
	}
	if shp := m.Results()[2].Inputs[0].Source; shp.DynamicRank || len(shp.Shape) != 1 {
		t.Errorf("ShapeOf output: %+v", shp)
	}
}

// TestPortNameIsSmallest checks that a tensor is served by the smallest of
// its names, as OpenVINO's get_any_name picks it.
func TestPortNameIsSmallest(t *testing.T) {
	for names, want := range map[string]string{"input,input:0": "input", "x:0,a": "a", "b": "b", "": "", "z,,y": "y"} {
		p := &irmodel.Port{Names: irmodel.SplitNames(names)}
		if got := p.Name(); got != want {
			t.Errorf("%q: %q, want %q", names, got, want)
		}
	}
}
