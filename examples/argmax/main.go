// Command ovms-node-argmax is the custom node library of docs/custom-nodes.md:
// for each row of scores it answers the index of the highest score and
// that score, with -1 as the label where the score is below a threshold.
package main

import (
	"context"
	"fmt"

	"github.com/ovmsgo/ovms/plugins/customnode"
)

func main() { customnode.Serve("argmax", newArgmax) }

// argmax is one pipeline node: its params, read once (OVMS's initialize).
type argmax struct {
	threshold float32 // labels of rows whose best score is below it are -1
	rank      int     // rank of scores: the last dimension holds the classes
	input     string  // name of the scores input
}

// newArgmax reads the node's params: threshold (default 0), rank (default
// 2) and input (default "scores").
func newArgmax(p customnode.Params) (customnode.Node, error) {
	threshold, err := p.Float("threshold", 0)
	if err != nil {
		return nil, err
	}
	rank, err := p.Int("rank", 2)
	if err != nil {
		return nil, err
	}
	if rank < 1 || rank > 8 {
		return nil, fmt.Errorf("param rank: %d is not between 1 and 8", rank)
	}
	return &argmax{threshold: float32(threshold), rank: rank, input: p.String("input", "scores")}, nil
}

// dynamic is a shape of n dynamic dimensions.
func dynamic(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// Inputs is getInputsInfo: scores, FP32, any size of the given rank.
func (a *argmax) Inputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{customnode.Tensor(a.input, customnode.FP32, dynamic(a.rank)...)}
}

// Outputs is getOutputsInfo: label (I32) and score (FP32), one per row.
func (a *argmax) Outputs() []customnode.TensorInfo {
	return []customnode.TensorInfo{
		customnode.Tensor("label", customnode.I32, dynamic(a.rank-1)...),
		customnode.Tensor("score", customnode.FP32, dynamic(a.rank-1)...),
	}
}

// Execute is execute: it writes both outputs into shared memory.
func (a *argmax) Execute(_ context.Context, c *customnode.Call) error {
	scores, shape, err := customnode.In[float32](c, a.input)
	if err != nil {
		return err
	}
	classes := int(shape[len(shape)-1])
	if classes == 0 {
		return customnode.Errorf("%s has no classes (shape %v)", a.input, shape)
	}
	rows := shape[:len(shape)-1]
	labels, err := customnode.Out[int32](c, "label", rows...)
	if err != nil {
		return err
	}
	best, err := customnode.Out[float32](c, "score", rows...)
	if err != nil {
		return err
	}
	for r := range labels {
		row := scores[r*classes : (r+1)*classes]
		k := 0
		for i, s := range row {
			if s > row[k] {
				k = i
			}
		}
		labels[r], best[r] = int32(k), row[k]
		if row[k] < a.threshold {
			labels[r] = -1
		}
	}
	return nil
}
