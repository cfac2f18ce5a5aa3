package rawcodec

import (
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// FreeUntaken frees the contents the codec kept in the received buffers for
// req if no handler took them (Take, TakePredict). ovms's servers call it
// as each RPC ends with its last request message
// (rpcctx.StatsHandler.LastRequest): gRPC decodes a unary request before
// the interceptors and the handler run, and a request refused by an
// interceptor, or failed by gRPC after its decode (a unary call whose
// client sends a second message, or never half-closes and goes away), would
// otherwise hold those buffers for good. (The API key check refuses a call
// on its headers, before any message is decoded.)
func FreeUntaken(req any) {
	switch req.(type) {
	case *kpb.ModelInferRequest, *tfspb.PredictRequest:
		if r := take(req); r != nil {
			r.Free()
		}
	}
}
