package integration

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	grpcapi "github.com/ovmsgo/ovms/core/api/grpc"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestGRPCFixedFlowWindows: the gRPC server announces its fixed windows
// (SETTINGS_INITIAL_WINDOW_SIZE grpcapi.FlowStreamWindowBytes and a
// connection WINDOW_UPDATE up to grpcapi.FlowConnWindowBytes) and answers a
// request, frame by frame on a raw HTTP/2 connection, without a PING of its
// own: with gRPC's dynamic window sizing the server pings after the first
// DATA frame of a request, which costs every small request a write and a
// read (docs/performance.md, "Sixteenth session on issue 16"). Any PING
// counts: the server's keepalive pings only a connection quiet for 120 s.
func TestGRPCFixedFlowWindows(t *testing.T) {
	s := startServer(t, "dummy")
	c, err := net.Dial("tcp", s.grpcAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}

	req, err := proto.Marshal(&kpb.ModelInferRequest{
		ModelName:        "dummy",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		RawInputContents: [][]byte{make([]byte, 40)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/inference.GRPCInferenceService/ModelInfer"},
		{":authority", s.grpcAddr()}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(req)))
	if err := fr.WriteData(1, true, append(msg, req...)); err != nil {
		t.Fatal(err)
	}

	var initialWindow, connUpdate uint32
	var status string
	var pings int
	for status == "" {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's frames: %v (status so far %q)", err, status)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				initialWindow = v
			}
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connUpdate += f.Increment
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				pings++
				if err := fr.WritePing(true, f.Data); err != nil {
					t.Fatal(err)
				}
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				status = f.PseudoValue("status") + " grpc-status=" + headerValue(f, "grpc-status") + " " + headerValue(f, "grpc-message")
			}
		case *http2.GoAwayFrame, *http2.RSTStreamFrame:
			t.Fatalf("server sent %v", f)
		}
	}
	if !strings.Contains(status, "grpc-status=0") {
		t.Errorf("ModelInfer over a raw connection: trailers %q, want grpc-status 0", status)
	}
	if initialWindow != grpcapi.FlowStreamWindowBytes {
		t.Errorf("SETTINGS_INITIAL_WINDOW_SIZE %d, want %d", initialWindow, grpcapi.FlowStreamWindowBytes)
	}
	if want := uint32(grpcapi.FlowConnWindowBytes - 65535); connUpdate != want {
		t.Errorf("connection window raised by %d, want %d (to %d)", connUpdate, want, grpcapi.FlowConnWindowBytes)
	}
	if pings != 0 {
		t.Errorf("the server sent %d PINGs while answering one request, want none (no bandwidth-delay probing)", pings)
	}
}

// headerValue is the first value of a regular header of f, "" if none.
func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, h := range f.RegularFields() {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}
