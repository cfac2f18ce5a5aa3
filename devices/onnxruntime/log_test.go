package onnxruntime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
	"google.golang.org/protobuf/proto"
)

// TestLogHandler checks that ONNX Runtime's warnings reach the handler:
// ORT warns when it removes an unused initializer, naming it.
func TestLogHandler(t *testing.T) {
	initLib(t)
	got := make(chan string, 16)
	SetLogHandler(func(level LogLevel, category, location, message string) {
		if level == LogWarning {
			select {
			case got <- message:
			default:
			}
		}
	})
	t.Cleanup(func() { SetLogHandler(nil) })
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(identityModel(t, Float32, 2), &m); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("unused_%d", time.Now().UnixNano())
	m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{
		Name: proto.String(marker), DataType: proto.Int32(int32(Float32)), Dims: []int64{1}, FloatData: []float32{1}})
	model, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, model, SessionOptions{})
	s.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case msg := <-got:
			if strings.Contains(msg, marker) {
				return
			}
		case <-timeout:
			t.Fatalf("no WARNING naming the unused initializer %s reached the log handler", marker)
		}
	}
}
