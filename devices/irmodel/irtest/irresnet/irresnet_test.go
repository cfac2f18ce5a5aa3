package irresnet

import (
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
)

// TestResNet50Shape: the full model parses and has ResNet-50's layers and
// parameter count in every flavour.
func TestResNet50Shape(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100 MB models")
	}
	for _, f := range []Flavour{F32, F16, INT8} {
		net, twin, err := Build(ResNet50(f))
		if err != nil {
			t.Fatal(err)
		}
		x, bin := net.Bytes()
		m, err := irmodel.Parse(x, bin)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ops := map[string]int{}
		for _, l := range m.Layers {
			ops[l.Type]++
		}
		// 1 stem conv, 3 per bottleneck (16 blocks), 4 projection shortcuts;
		// in INT8 a FakeQuantize on each weight (53 + FC) and on each
		// activation read (input, 3 per block, the FC's input).
		want := map[string]int{"Convolution": 53, "BatchNormInference": 1, "MaxPool": 1, "ReduceMean": 1, "MatMul": 1, "Softmax": 1}
		switch f {
		case F16:
			want["Convert"] = 53 + 52 + 4 + 2
		case INT8:
			want["FakeQuantize"] = 54 + 1 + 3*16 + 1
		}
		for op, n := range want {
			if ops[op] != n {
				t.Errorf("%s: %d %s layers, want %d", f, ops[op], op, n)
			}
		}
		params := 0
		for _, init := range twin.GetGraph().GetInitializer() {
			if init.GetDataType() == 1 && len(init.GetDims()) > 0 {
				params += len(init.GetRawData()) / 4
			}
		}
		if params < 25_400_000 || params > 25_700_000 {
			t.Errorf("%s: %d parameters, want about 25.5M", f, params)
		}
		t.Logf("%s: .bin %d bytes, %d layers, %d parameters", f, len(bin), len(m.Layers), params)
	}
}
