package integration

import (
	"encoding/base64"
	"image/color"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/imagein/imagetest"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestImageDecodeBombs sends images whose headers claim huge sizes. Each
// is answered from its header, quickly, and the core's peak RSS grows by
// less than 100 MB over all of them (before the fix: the JPEG cost 1.5 GB
// and 7 s, the grey PNG 4.4 GB).
func TestImageDecodeBombs(t *testing.T) {
	s := startServer(t, "image_nhwc")
	infer := func(model string, imgs ...[]byte) error {
		_, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: model,
			Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{int64(len(imgs))}, Contents: &kpb.InferTensorContents{BytesContents: imgs}}}})
		return err
	}
	if err := infer("image_nhwc", solidImage(t, "png", 8, 8, color.RGBA{R: 255, A: 255})); err != nil {
		t.Fatal(err)
	}
	jpegBomb, err := imagetest.JPEGBomb(32768, 32768)
	if err != nil {
		t.Fatal(err)
	}
	grayBomb := imagetest.ZerosPNG(32768, 32768, imagetest.Grey)
	rgbBomb := imagetest.ZerosPNG(16384, 16384, imagetest.RGB)
	pid := s.cmd.Process.Pid
	before := procKB(t, pid, "VmHWM") << 10
	for _, c := range []struct {
		name   string
		img    []byte
		prefix string
	}{
		{"jpeg header of 32768x32768", jpegBomb, "Image parsing failed - image 0 is 32768x32768: decoding it takes about"},
		{"grey png of 32768x32768", grayBomb, "Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: image"},
		{"rgb png of 16384x16384", rgbBomb, "Image parsing failed - image 0 is 16384x16384: decoding it takes about"},
	} {
		start := time.Now()
		err := infer("image_nhwc", c.img)
		took := time.Since(start)
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), c.prefix) {
			t.Errorf("%s (%d bytes): %v, want InvalidArgument %q...", c.name, len(c.img), err, c.prefix)
		}
		if took > 3*time.Second {
			t.Errorf("%s: answered in %v", c.name, took)
		}
	}
	// REST, TFS row format: the same answer with 400.
	code, body := post(t, s.url("/v1/models/image_nhwc:predict"), `{"instances": [{"b64": "`+base64.StdEncoding.EncodeToString(jpegBomb)+`"}]}`)
	if code != 400 || !strings.Contains(body, "Image parsing failed - image 0 is 32768x32768") {
		t.Errorf("tfs rest: %d %s", code, body)
	}
	grew := procKB(t, pid, "VmHWM")<<10 - before
	t.Logf("the core's peak RSS grew by %d MB answering the bombs", grew>>20)
	if grew > 100<<20 {
		t.Errorf("the core's peak RSS grew by %d MB answering the bombs (bound 100 MB)", grew>>20)
	}
	// The server still decodes normal images.
	if err := infer("image_nhwc", solidImage(t, "jpeg", 640, 480, color.RGBA{G: 255, A: 255})); err != nil {
		t.Fatalf("a normal image after the bombs: %v", err)
	}
	s.alive()

	// Many small images into a fully dynamic input: 24 JPEGs of 2048x2048
	// (30 KB each) make a 288 MiB tensor, over the limit; refused before
	// anything is decoded.
	d := startServer(t, "image_any")
	img := solidImage(t, "jpeg", 2048, 2048, color.RGBA{B: 255, A: 255})
	batch := make([][]byte, 24)
	for i := range batch {
		batch[i] = img
	}
	dpid := d.cmd.Process.Pid
	before = procKB(t, dpid, "VmHWM") << 10
	start := time.Now()
	_, err = kpb.NewGRPCInferenceServiceClient(d.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "image_any",
		Inputs: []*inT{{Name: "image", Datatype: "BYTES", Shape: []int64{24}, Contents: &kpb.InferTensorContents{BytesContents: batch}}}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "Image parsing failed - image 0 is 2048x2048") ||
		!strings.Contains(st.Message(), "tensor of 24 images") {
		t.Errorf("24 images of 2048x2048: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("24 images of 2048x2048: answered in %v", took)
	}
	grew = procKB(t, dpid, "VmHWM")<<10 - before
	t.Logf("the core's peak RSS grew by %d MB refusing the batch", grew>>20)
	if grew > 100<<20 {
		t.Errorf("the core's peak RSS grew by %d MB refusing the batch (bound 100 MB)", grew>>20)
	}
	d.alive()
}
