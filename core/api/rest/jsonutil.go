package rest

import (
	"bytes"
	"encoding/base64"
	"errors"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
)

// maxJSONDepth is OVMS's MAX_NESTING_DEPTH for request bodies.
const maxJSONDepth = 100

// checkJSON trims the body at its first NUL (OVMS parses C strings) and
// checks its syntax as OVMS's parseJsonWithDepthLimit does.
func checkJSON(body []byte) ([]byte, error) {
	data := rjson.TrimAtNUL(body)
	err := rjson.Validate(data, maxJSONDepth)
	var se *rjson.SyntaxError
	switch {
	case err == nil:
		return data, nil
	case errors.As(err, &se):
		return nil, apierr.Newf(apierr.JSONInvalid, "%s", se.Error())
	}
	return nil, apierr.New(apierr.JSONNestingDepthExceeded)
}

// cString cuts a decoded JSON string at its first NUL: OVMS copies names
// and values out of RapidJSON with GetString() as C strings.
func cString(b []byte) string { return string(cBytes(b)) }

func cBytes(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i:i]
	}
	return b
}

// decodeB64 decodes like absl::Base64Unescape: whitespace is skipped,
// padding is optional but must be complete when present, and non-zero
// trailing bits are accepted.
func decodeB64(s []byte) ([]byte, bool) {
	clean := make([]byte, 0, len(s))
	for _, b := range s {
		switch b {
		case ' ', '\t', '\n', '\v', '\f', '\r':
		default:
			clean = append(clean, b)
		}
	}
	pad := 0
	for pad < len(clean) && clean[len(clean)-1-pad] == '=' {
		pad++
	}
	body := clean[:len(clean)-pad]
	if bytes.IndexByte(body, '=') >= 0 || (pad > 0 && (pad > 2 || (len(body)+pad)%4 != 0)) || len(body)%4 == 1 {
		return nil, false
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(body)))
	n, err := base64.RawStdEncoding.Decode(out, body)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}
