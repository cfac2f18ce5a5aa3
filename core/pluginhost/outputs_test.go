package pluginhost

import (
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

func TestLeaseOutputs(t *testing.T) {
	var inst Instance
	a := inst.LeaseOutputs([]device.TensorRef{{Length: 100}, {Length: 50, Region: 3}, {Length: 7}})
	b := inst.LeaseOutputs([]device.TensorRef{{Length: 1000}})
	if got := inst.LeasedOutputBytes(); got != 1107 || a != 107 {
		t.Fatalf("leased %d bytes (%d for the first answer), want 1107 (107): outputs in a client's region do not count", got, a)
	}
	inst.UnleaseOutputs(a)
	if got := inst.LeasedOutputBytes(); got != 1000 {
		t.Fatalf("after one release: %d, want 1000", got)
	}
	inst.UnleaseOutputs(b)
	if got := inst.LeasedOutputBytes(); got != 0 {
		t.Fatalf("after both: %d", got)
	}
}
