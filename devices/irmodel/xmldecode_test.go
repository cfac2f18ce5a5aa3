package irmodel_test

import (
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest/irresnet"
)

// decodeDocs are documents whose decoding decodeNet must agree on with
// encoding/xml's Decode: IR as the tests write it, and the corners of
// Decode's rules (repeated elements and attributes, namespaces, text and
// elements where none are expected, bad roots, broken syntax).
func decodeDocs(t testing.TB) [][]byte {
	x, _ := small().Bytes()
	rt := small()
	rt.SetRTInfo(`<conversion_parameters><framework value="onnx"/></conversion_parameters><old_api_map_order value="0,2,3,1"/>`)
	rtx, _ := rt.Bytes()
	docs := [][]byte{x, rtx}
	for _, s := range []string{
		``,
		`<?xml version="1.0"?>`,
		`<model version="11"/>`,
		`<net name="a" version="11"/>`,
		`<!-- c --><net name="a" name="b" version="10" extra="x"><layers/><edges/></net>`,
		`<net xmlns:p="urn:p" p:name="ns" version="11"><p:layers><p:layer id="0" p:type="Parameter"/></p:layers></net>`,
		`<net version="11">text<layers>more<layer id="1" name="l" type="Const" version="opset1">
			<data element_type="f32" shape="2" offset="0" size="8"/><data offset="4" extra="y"/>
			<input><port id="0"><dim>1</dim><dim> 2 <b>x</b>3</dim><other/></port><notport/></input>
			<input><port id="1" precision="FP32" names="a\,b,c"><dim><![CDATA[4]]></dim><rt_info><attribute name="x" version="0"/></rt_info></port></input>
			<output><port id="2"><dim>?</dim><!-- no --></port></output>
			<rt_info a="1"><x><y z="2"/></x></rt_info><rt_info b="2"><w/></rt_info>
			<body><layers><layer id="9"/></layers></body><body/>
			<unknown><layer id="5"/></unknown>
		</layer><layer id="2"/></layers><layers><layer id="3"/><edge from-layer="0"/></layers>
		<edges><edge from-layer="1" from-port="2" to-layer="2" to-port="0" from-layer="7"/><layer/></edges><edges><edge/></edges>
		<rt_info><a/></rt_info><rt_info v="1"><b c="d"/></rt_info></net><trailing/>`,
		`<net version="11"><layers><layer id="1"><input><port id="0"><dim>1</dim>`,
		`<net version="11"><layers><layer id="1"></layers></net>`,
		`<net version="11"><layers><layer id="&bad;"/></layers></net>`,
		`<net version="11"><layers><layer id="&lt;&#65;&amp;"/></layers></net>`,
		`<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aa">]><net name="&a;"/>`,
		`<net version="11"><layers><layer><input><port><dim><dim>1</dim></dim></port></input></layer></layers></net>`,
	} {
		docs = append(docs, []byte(s))
	}
	// rt_info nested to Decode's depth limit (10000 open elements) and past
	// it, under the net, a layer and a port: the walk recursed without a
	// limit and a deep enough document overflowed its stack.
	nest := func(prefix, suffix string, n int) []byte {
		return []byte(prefix + strings.Repeat("<a>", n) + strings.Repeat("</a>", n) + suffix)
	}
	for _, n := range []int{10000, 10001} {
		docs = append(docs,
			nest(`<net version="11"><rt_info>`, `</rt_info></net>`, n-2),
			nest(`<net version="11"><layers><layer id="1"><rt_info>`, `</rt_info></layer></layers></net>`, n-4),
			nest(`<net version="11"><layers><layer id="1"><output><port id="0"><rt_info>`, `</rt_info></port></output></layer></layers></net>`, n-6))
	}
	if testing.Short() {
		return docs
	}
	net, _, err := irresnet.Build(irresnet.Small(irresnet.INT8))
	if err != nil {
		t.Fatal(err)
	}
	rx, _ := net.Bytes()
	return append(docs, rx)
}

// TestDecodeNetAgrees: decodeNet reads every document as Decode did.
func TestDecodeNetAgrees(t *testing.T) {
	deep := []byte(`<net version="11"><rt_info>` + strings.Repeat("<a>", 2_000_000) + strings.Repeat("</a>", 2_000_000) + `</rt_info></net>`)
	if _, err := irmodel.Parse(deep, nil); err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Errorf("rt_info nested 2,000,000 deep: %v, want exceeded max depth", err)
	}
	for i, d := range decodeDocs(t) {
		if diff := irmodel.DecodeDisagreement(d); diff != "" {
			t.Errorf("document %d (%.80q): %s", i, d, diff)
		}
	}
}

// FuzzDecodeNetAgrees: decodeNet and Decode agree on any input.
func FuzzDecodeNetAgrees(f *testing.F) {
	for _, d := range decodeDocs(f) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff := irmodel.DecodeDisagreement(data); diff != "" {
			t.Fatal(diff)
		}
	})
}

// BenchmarkParseResNet50 parses the ResNet-50-shaped IR of make bench's
// IR load row (143 KB of XML, 290 layers).
func BenchmarkParseResNet50(b *testing.B) {
	net, _, err := irresnet.Build(irresnet.ResNet50(irresnet.F32))
	if err != nil {
		b.Fatal(err)
	}
	x, bin := net.Bytes()
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := irmodel.Parse(x, bin); err != nil {
			b.Fatal(err)
		}
	}
}
