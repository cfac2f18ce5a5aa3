package host

import (
	"time"

	"github.com/ovmsgo/ovms/plugins/device"
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

// statefulToProto converts a model's stateful settings for the wire.
func statefulToProto(s *device.Stateful) *devicev1.Stateful {
	if s == nil {
		return nil
	}
	return &devicev1.Stateful{MaxSequenceNumber: s.MaxSequenceNumber, IdleCleanupIntervalMs: s.IdleCleanup.Milliseconds(),
		LowLatencyTransformation: s.LowLatencyTransformation, StateMapping: s.StateMapping}
}

// statefulFromProto converts a model's stateful settings from the wire.
func statefulFromProto(s *devicev1.Stateful) *device.Stateful {
	if s == nil {
		return nil
	}
	return &device.Stateful{MaxSequenceNumber: s.GetMaxSequenceNumber(), IdleCleanup: time.Duration(s.GetIdleCleanupIntervalMs()) * time.Millisecond,
		LowLatencyTransformation: s.GetLowLatencyTransformation(), StateMapping: s.GetStateMapping()}
}
