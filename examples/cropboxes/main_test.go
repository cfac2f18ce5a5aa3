package main

import (
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/plugins/customnode/customnodetest"
)

// image4 is a 1x3x4x4 NCHW image whose value at (c, y, x) is 100c + 10y + x.
func image4() customnodetest.Tensor {
	v := make([]float32, 3*4*4)
	for c := 0; c < 3; c++ {
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				v[(c*4+y)*4+x] = float32(100*c + 10*y + x)
			}
		}
	}
	return customnodetest.Of[float32]("image", []int64{1, 3, 4, 4}, v...)
}

func TestCropBoxesContract(t *testing.T) {
	det := customnodetest.Of[float32]("detection", []int64{1, 1, 4, 7},
		0, 3, 0.9, 0, 0, 0.5, 0.5, // the top-left quarter: kept
		0, 1, 0.2, 0, 0, 1, 1, // below the threshold
		0, 2, 0.8, 0.5, 0.5, 1, 1, // the bottom-right quarter: kept
		-1, 0, 0, 0, 0, 0, 0) // end of the list
	customnodetest.Contract(t, newCrop, customnodetest.Case{
		Params: map[string]string{"target_image_width": "2", "target_image_height": "2", "original_image_width": "4", "original_image_height": "4"},
		Inputs: []customnodetest.Tensor{image4(), det},
		Check: func(t testing.TB, out []customnodetest.Tensor) {
			images := customnodetest.Get(out, "images")
			if got := images.Shape; len(got) != 5 || got[0] != 2 || got[3] != 2 || got[4] != 2 {
				t.Fatalf("images shape %v, want [2 1 3 2 2]", got)
			}
			px := customnodetest.Values[float32](images)
			// A 2x2 crop of a 2x2 quarter is the quarter itself.
			for i, want := range []float32{0, 1, 10, 11} {
				if px[i] != want {
					t.Errorf("crop 0 channel 0 = %v, want [0 1 10 11]", px[:4])
					break
				}
			}
			if px[12] != 22 || px[12+4] != 122 {
				t.Errorf("crop 1 starts %v, %v; want 22 (channel 0), 122 (channel 1)", px[12], px[16])
			}
			if got := customnodetest.Values[int32](customnodetest.Get(out, "label_ids")); got[0] != 3 || got[1] != 2 {
				t.Errorf("label_ids %v, want [3 2]", got)
			}
			if got := customnodetest.Values[float32](customnodetest.Get(out, "coordinates")); got[4] != 0.5 || got[7] != 1 {
				t.Errorf("coordinates %v", got)
			}
		},
	})
}

func TestCropBoxesParams(t *testing.T) {
	for _, p := range []map[string]string{
		{},
		{"target_image_width": "2"},
		{"target_image_width": "2", "target_image_height": "x"},
		{"target_image_width": "2", "target_image_height": "2", "original_image_layout": "CHW"},
	} {
		if _, err := newCrop(p); err == nil {
			t.Errorf("params %v accepted", p)
		}
	}
}

func TestCropBoxesNoDetections(t *testing.T) {
	h := customnodetest.Start(t, newCrop)
	n, err := h.Open(map[string]string{"target_image_width": "2", "target_image_height": "2"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.Execute([]customnodetest.Tensor{image4(), customnodetest.Of[float32]("detection", []int64{1, 1, 1, 7}, 0, 1, 0.1, 0, 0, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if s := customnodetest.Get(out, "images").Shape; s[0] != 0 {
		t.Errorf("images shape %v, want a first dimension of 0", s)
	}
}

// Only the original image size may be left as -1 (any): a max_output_batch
// of -1 would crop nothing.
func TestCropBoxesParamRanges(t *testing.T) {
	for _, p := range []map[string]string{
		{"target_image_width": "2", "target_image_height": "2", "max_output_batch": "-1"},
		{"target_image_width": "-1", "target_image_height": "2"},
		{"target_image_width": "2", "target_image_height": "2", "original_image_width": "0"},
	} {
		if _, err := newCrop(p); err == nil {
			t.Errorf("params %v accepted", p)
		}
	}
	if _, err := newCrop(map[string]string{"target_image_width": "2", "target_image_height": "2", "original_image_width": "-1"}); err != nil {
		t.Errorf("original_image_width -1: %v", err)
	}
}

// An empty image (a 0 height or width, which a -1 original size lets
// through) is refused as the node's error, not a panic.
func TestCropBoxesEmptyImage(t *testing.T) {
	h := customnodetest.Start(t, newCrop)
	n, err := h.Open(map[string]string{"target_image_width": "2", "target_image_height": "2"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Execute([]customnodetest.Tensor{customnodetest.Of[float32]("image", []int64{1, 3, 0, 4}),
		customnodetest.Of[float32]("detection", []int64{1, 1, 1, 7}, 0, 1, 0.9, 0, 0, 1, 1)})
	if err == nil || strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Execute on an empty image: %v", err)
	}
}
