package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	grpcapi "github.com/ovmsgo/ovms/core/api/grpc"
)

// TestClientFixedFlowWindows: the bench client announces fixed flow-control
// windows and sends no bandwidth-delay probe (a PING) after receiving a
// response, which gRPC's default client does, costing the client a write
// and the server a read and a write per request. The server is a raw
// HTTP/2 peer that answers one ModelInfer and then watches the connection.
func TestClientFixedFlowWindows(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type seen struct {
		initialWindow, connUpdate uint32
		pings                     int
		err                       error
	}
	result := make(chan seen, 1)
	answered := make(chan struct{})
	go func() {
		var s seen
		defer func() { result <- s }()
		c, err := ln.Accept()
		if err != nil {
			s.err = err
			return
		}
		defer c.Close()
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
			s.err = err
			return
		}
		fr := http2.NewFramer(c, c)
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		if s.err = fr.WriteSettings(); s.err != nil {
			return
		}
		var stream uint32
		deadline := time.Time{}
		for {
			if !deadline.IsZero() {
				_ = c.SetReadDeadline(deadline)
			}
			f, err := fr.ReadFrame()
			if err != nil {
				if !deadline.IsZero() { // the watch after the answer ended
					return
				}
				s.err = err
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
						s.initialWindow = v
					}
					s.err = fr.WriteSettingsAck()
				}
			case *http2.WindowUpdateFrame:
				if f.StreamID == 0 {
					s.connUpdate += f.Increment
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					s.pings++
					s.err = fr.WritePing(true, f.Data)
				}
			case *http2.MetaHeadersFrame:
				stream = f.StreamID
			case *http2.DataFrame:
				if !f.StreamEnded() {
					continue
				}
				var hdr bytes.Buffer
				enc := hpack.NewEncoder(&hdr)
				_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
				if s.err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hdr.Bytes(), EndHeaders: true}); s.err != nil {
					return
				}
				// An empty ModelInferResponse: the 5-byte gRPC prefix.
				if s.err = fr.WriteData(stream, false, []byte{0, 0, 0, 0, 0}); s.err != nil {
					return
				}
				hdr.Reset()
				_ = enc.WriteField(hpack.HeaderField{Name: "grpc-status", Value: "0"})
				if s.err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hdr.Bytes(), EndHeaders: true, EndStream: true}); s.err != nil {
					return
				}
				close(answered)
				// gRPC's default client probes right after the
				// response's DATA frame; watch for half a second.
				deadline = time.Now().Add(500 * time.Millisecond)
			}
			if s.err != nil {
				return
			}
		}
	}()

	conn, err := DialGRPC(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d := &grpcDoer{conn: conn, method: "/inference.GRPCInferenceService/ModelInfer", req: &rawMessage{b: []byte{0x0a, 0x01, 'm'}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Do(ctx); err != nil {
		t.Fatalf("ModelInfer against the raw peer: %v", err)
	}
	<-answered
	s := <-result
	if s.err != nil {
		t.Fatalf("raw HTTP/2 peer: %v", s.err)
	}
	if s.initialWindow != grpcapi.FlowStreamWindowBytes {
		t.Errorf("client SETTINGS_INITIAL_WINDOW_SIZE %d, want %d", s.initialWindow, grpcapi.FlowStreamWindowBytes)
	}
	if want := uint32(grpcapi.FlowConnWindowBytes - 65535); s.connUpdate != want {
		t.Errorf("client raised the connection window by %d, want %d", s.connUpdate, want)
	}
	if s.pings != 0 {
		t.Errorf("the client sent %d PINGs around one request, want none (no bandwidth-delay probing)", s.pings)
	}
}
