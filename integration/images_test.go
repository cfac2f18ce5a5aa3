package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// solidImage encodes a w x h image of one colour as PNG or JPEG.
func solidImage(t *testing.T, format string, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkPixels checks a [n,4,4,3] FP32 NHWC tensor holds bgr everywhere,
// within tol.
func checkPixels(t *testing.T, what string, data []byte, n int, bgr [3]float32, tol float32) {
	t.Helper()
	if len(data) != n*4*4*3*4 {
		t.Fatalf("%s: %d bytes, want %d", what, len(data), n*4*4*3*4)
	}
	for i := 0; i < n*4*4; i++ {
		for c := 0; c < 3; c++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*(3*i+c):]))
			if d := v - bgr[c]; d > tol || d < -tol {
				t.Fatalf("%s: pixel %d channel %d = %v, want %v", what, i, c, v, bgr[c])
			}
		}
	}
}

// TestBinaryImageInputs sends JPEG and PNG images to an NHWC FP32 input
// [1,4,4,3] over every API: ovms decodes them to BGR, resizes them from
// 8x8 to 4x4 and converts them to FP32, as OVMS does.
func TestBinaryImageInputs(t *testing.T) {
	s := startServer(t, "image_nhwc")
	red := solidImage(t, "png", 8, 8, color.RGBA{R: 255, A: 255})
	teal := solidImage(t, "jpeg", 8, 8, color.RGBA{R: 20, G: 200, B: 180, A: 255})
	redBGR, tealBGR := [3]float32{0, 0, 255}, [3]float32{180, 200, 20}

	tc := tfspb.NewPredictionServiceClient(s.conn)
	tr, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "image_nhwc"},
		Inputs: map[string]*fw.TensorProto{"image": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(1), StringVal: [][]byte{red}}}})
	if err != nil {
		t.Fatalf("tfs grpc: %v", err)
	}
	checkPixels(t, "tfs grpc", tr.Outputs["pixels"].TensorContent, 1, redBGR, 0)

	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	kr, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_nhwc", Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{1},
		Contents: &kpb.InferTensorContents{BytesContents: [][]byte{teal}}}}})
	if err != nil {
		t.Fatalf("kserve grpc: %v", err)
	}
	checkPixels(t, "kserve grpc jpeg", kr.RawOutputContents[0], 1, tealBGR, 4)
	raw := binary.LittleEndian.AppendUint32(nil, uint32(len(red)))
	kr, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_nhwc", Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{1}}},
		RawInputContents: [][]byte{append(raw, red...)}})
	if err != nil {
		t.Fatalf("kserve grpc raw: %v", err)
	}
	checkPixels(t, "kserve grpc raw", kr.RawOutputContents[0], 1, redBGR, 0)

	// KServe REST with the binary extension, the image behind its length.
	header := fmt.Sprintf(`{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":%d}}],"outputs":[{"name":"pixels","parameters":{"binary_data":true}}]}`, len(raw)+len(red))
	req, _ := http.NewRequest("POST", s.url("/v2/models/image_nhwc/infer"), bytes.NewReader(append(append([]byte(header), raw...), red...)))
	req.Header.Set("Inference-Header-Content-Length", fmt.Sprint(len(header)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hl := 0
	fmt.Sscan(resp.Header.Get("Inference-Header-Content-Length"), &hl)
	if resp.StatusCode != 200 || hl == 0 || hl > len(body) {
		t.Fatalf("kserve rest binary: %d %q", resp.StatusCode, body)
	}
	checkPixels(t, "kserve rest binary", body[hl:], 1, redBGR, 0)

	// TFS REST: {"b64": ...} in the row format.
	code, out := post(t, s.url("/v1/models/image_nhwc:predict"), `{"instances": [{"b64": "`+base64.StdEncoding.EncodeToString(red)+`"}]}`)
	var pred struct{ Predictions [][][][]float32 }
	if err := json.Unmarshal([]byte(out), &pred); code != 200 || err != nil || len(pred.Predictions) != 1 || pred.Predictions[0][3][3][2] != 255 || pred.Predictions[0][0][0][0] != 0 {
		t.Fatalf("tfs rest: %d %v %.300s", code, err, out)
	}

	// Errors, as OVMS words them.
	gray := solidImage(t, "png", 8, 8, color.Gray{Y: 9})
	g := image.NewGray(image.Rect(0, 0, 8, 8))
	var gb bytes.Buffer
	_ = png.Encode(&gb, g)
	for _, c := range []struct {
		name  string
		shape []int64
		imgs  [][]byte
		msg   string
	}{
		{"not an image", []int64{1}, [][]byte{[]byte("not an image at all")}, "Image parsing failed - image 0: not a JPEG or PNG image; input name: image"},
		{"gray image", []int64{1}, [][]byte{gb.Bytes()}, "Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: image"},
		{"empty", []int64{1}, [][]byte{{}}, "Bytes contents is empty - image 0 is empty; input name: image"},
		{"declared batch", []int64{2}, [][]byte{red}, "Invalid input batch size"},
		{"model batch", []int64{2}, [][]byte{red, red}, "Invalid input batch size - Expected: 1; Actual: 2; input name: image"},
		{"rank", []int64{1, 1}, [][]byte{red}, "Invalid number of shape dimensions - Expected number of input shape dimensions: 1; Actual: 2; input name: image"},
	} {
		_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_nhwc", Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: c.shape,
			Contents: &kpb.InferTensorContents{BytesContents: c.imgs}}}})
		wantErr(t, err, c.msg)
	}
	_, err = tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "image_nhwc"},
		Inputs: map[string]*fw.TensorProto{"image": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(1), StringVal: [][]byte{{}}}}})
	wantErr(t, err, "String val is empty - image 0 is empty; input name: image")
	s.alive()

	// A fully dynamic input takes images at their size, a batch of them
	// sharing one resolution.
	d := startServer(t, "image_any")
	dc := kpb.NewGRPCInferenceServiceClient(d.conn)
	dr, err := dc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_any", Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{2},
		Contents: &kpb.InferTensorContents{BytesContents: [][]byte{red, gray}}}}})
	if err != nil {
		t.Fatalf("image_any: %v", err)
	}
	if o := dr.Outputs[0]; o.Datatype != "UINT8" || fmt.Sprint(o.Shape) != "[2 8 8 3]" || !bytes.Equal(dr.RawOutputContents[0][:3], []byte{0, 0, 255}) ||
		!bytes.Equal(dr.RawOutputContents[0][8*8*3:8*8*3+3], []byte{9, 9, 9}) {
		t.Fatalf("image_any output: %v %v", o, dr.RawOutputContents[0][:6])
	}
	_, err = dc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_any", Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{2},
		Contents: &kpb.InferTensorContents{BytesContents: [][]byte{red, solidImage(t, "png", 4, 6, color.White)}}}}})
	wantErr(t, err, "Binary input images for this endpoint are required to have the same resolution - image 1 is 4x6, the first is 8x8; input name: image")
	d.alive()
}

// TestImageLayouts: binary images need an NHWC input. An input whose
// configured layout is NCHW gets OVMS's UNSUPPORTED_LAYOUT; an NCHW model
// served with layout NHWC:NCHW takes images (ovms transposes them).
func TestImageLayouts(t *testing.T) {
	red := solidImage(t, "png", 5, 4, color.RGBA{R: 255, A: 255})
	s := startServer(t, "image_nhwc", "--layout", "NCHW")
	_, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_nhwc",
		Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{1}, Contents: &kpb.InferTensorContents{BytesContents: [][]byte{red}}}}})
	wantErr(t, err, `Received binary image input but resource not configured to accept NHWC layout - input image has layout NCHW; binary image inputs need NHWC (set its layout to "NHWC:NCHW" to convert)`)
	s.stop()

	s = startServer(t, "increment_1x3x4x5", "--layout", "NHWC:NCHW")
	r, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "increment_1x3x4x5",
		Inputs: []*inT{{Name: "input", Datatype: "BYTES", Shape: []int64{1}, Contents: &kpb.InferTensorContents{BytesContents: [][]byte{red}}}}})
	if err != nil {
		t.Fatalf("an image into an NCHW model served as NHWC: %v", err)
	}
	out := f32s(r.RawOutputContents[0]) // NCHW [1,3,4,5]: planes B, G, R, each + 1
	if len(out) != 60 || out[0] != 1 || out[20] != 1 || out[40] != 256 || out[59] != 256 {
		t.Fatalf("output planes: B %v G %v R %v", out[0], out[20], out[40])
	}
}
