package rest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

// A 1x3x224x224 image as JSON numbers, the size of a ResNet request.
func imageJSON() string {
	var b strings.Builder
	b.WriteString("[[")
	for c := 0; c < 3; c++ {
		if c > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for y := 0; y < 224; y++ {
			if y > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for x := 0; x < 224; x++ {
				if x > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.FormatFloat(float64((x*7+y*3+c)%255)/255, 'g', 6, 32))
			}
			b.WriteByte(']')
		}
		b.WriteByte(']')
	}
	b.WriteString("]]")
	return b.String()
}

func BenchmarkParsePredictImage(b *testing.B) {
	body := []byte(`{"instances": ` + imageJSON()[1:len(imageJSON())-1] + `}`)
	body = []byte(`{"instances": [` + string(body[len(`{"instances": `):len(body)-1]) + `]}`)
	inputs := []device.TensorInfo{{Name: "x", DType: device.Float32, Shape: []int64{1, 3, 224, 224}}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := ParsePredict(body, inputs, ParseLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInferImage(b *testing.B) {
	body := []byte(`{"inputs": [{"name": "x", "shape": [1, 3, 224, 224], "datatype": "FP32", "data": ` + imageJSON() + `}]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		req, err := ParseInfer(body, -1, ParseLimits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := req.Inputs(nil); err != nil {
			b.Fatal(err)
		}
	}
}
