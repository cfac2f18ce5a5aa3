package main

import (
	"testing"

	"github.com/ovmsgo/ovms/plugins/customnode/customnodetest"
)

func TestArgmaxContract(t *testing.T) {
	scores := customnodetest.Of[float32]("scores", []int64{2, 3}, 0.1, 0.7, 0.2, 0.3, 0.1, 0.2)
	customnodetest.Contract(t, newArgmax, customnodetest.Case{
		Params: map[string]string{"threshold": "0.5"},
		Inputs: []customnodetest.Tensor{scores},
		Check: func(t testing.TB, out []customnodetest.Tensor) {
			if got := customnodetest.Values[int32](customnodetest.Get(out, "label")); got[0] != 1 || got[1] != -1 {
				t.Errorf("labels %v, want [1 -1] (row 2 is below the threshold)", got)
			}
			if got := customnodetest.Values[float32](customnodetest.Get(out, "score")); got[0] != 0.7 || got[1] != 0.3 {
				t.Errorf("scores %v, want [0.7 0.3]", got)
			}
		},
	})
}
