package irtoonnx

import (
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// TestRTInfoJSON checks the rt_info object of model metadata: model_info
// only, values as strings, nested elements as objects, keys sorted, no
// HTML escaping; and the other names of tensors in Result.
func TestRTInfoJSON(t *testing.T) {
	n := irtest.New("m")
	x := n.Parameter("x", irmodel.F32, "1,2", "x:0", "x")
	n.Result(n.Op("Relu", "opset1", nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "1,2", Names: "y,y:0"})[0], "y/sink")
	n.SetRTInfo(`<framework><name value="pytorch"/></framework><model_info><model_type value="classification"/>` +
		`<labels value="cat &lt;dog&gt; &amp; &quot;bird&quot;"/><resolution><w value="224"/><h value="224"/></resolution><empty value=""/></model_info>`)
	xml, bin := n.Bytes()
	m, err := irmodel.Parse(xml, bin)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Translate(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model_info":{"empty":"","labels":"cat <dog> & \"bird\"","model_type":"classification","resolution":{"h":"224","w":"224"}}}`
	if string(res.RTInfo) != want {
		t.Errorf("rt_info\n got %s\nwant %s", res.RTInfo, want)
	}
	if in := res.Inputs[0]; in.Name != "x" || len(in.Names) != 2 {
		t.Errorf("input %+v", in)
	}
	if out := res.Outputs[0]; out.Name != "y" || len(out.Names) != 2 {
		t.Errorf("output %+v", out)
	}
	n.SetRTInfo(`<framework><name value="pytorch"/></framework>`)
	xml, bin = n.Bytes()
	if m, err = irmodel.Parse(xml, bin); err != nil {
		t.Fatal(err)
	}
	if got := RTInfoJSON(m); got != nil {
		t.Errorf("no model_info: %s", got)
	}
}
