package rest

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
)

// registerBody is the body of POST /v2/systemsharedmemory/region/{r}/register.
type registerBody struct {
	Key      *string `json:"key"`
	Offset   uint64  `json:"offset"`
	ByteSize *uint64 `json:"byte_size"`
}

// sharedMemory serves the system shared-memory extension's paths (status,
// register, unregister), as Triton defines them.
func (s *Server) sharedMemory(w http.ResponseWriter, r *http.Request, rt route) {
	switch rt.kind {
	case routeShmRegister:
		body, err := s.readSmallBody(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var b registerBody
		if err := json.Unmarshal(body, &b); err != nil || b.Key == nil || b.ByteSize == nil {
			s.fail(w, r, apierr.Newf(apierr.SharedMemoryInvalid, "register needs a JSON object with key, offset and byte_size"))
			return
		}
		if err := s.shm.Register(rt.region, *b.Key, b.Offset, *b.ByteSize); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	case routeShmUnregister:
		if err := s.shm.Unregister(rt.region); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	case routeShmStatus:
		regions, err := s.shm.Status(rt.region)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, r, func(out io.Writer) error {
			jw := rjson.NewWriter(out)
			jw.StartArray()
			for _, reg := range regions {
				jw.StartObject()
				jw.Key("name")
				jw.String(reg.Name)
				jw.Key("key")
				jw.String(reg.Key)
				jw.Key("offset")
				jw.Uint64(reg.Offset)
				jw.Key("byte_size")
				jw.Uint64(reg.Size)
				jw.EndObject()
			}
			jw.EndArray()
			return jw.Flush()
		})
	}
}
