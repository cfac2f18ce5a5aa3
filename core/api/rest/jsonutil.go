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

// checkJSON trims the body at its first NUL (OVMS parses C strings),
// checks its syntax as OVMS's parseJsonWithDepthLimit does, and returns a
// cursor at its start that skips large values without reading them
// again. The grammar of long runs of numbers is checked as the parser
// converts them: call finishJSON after parsing.
func checkJSON(body []byte) (*rjson.Cursor, *rjson.Index, error) {
	data := rjson.TrimAtNUL(body)
	idx, err := rjson.ValidateIndex(data, maxJSONDepth)
	if err != nil {
		return nil, nil, jsonError(err)
	}
	return rjson.NewIndexedCursor(data, idx), idx, nil
}

// finishJSON completes checkJSON after parsing. Its error takes the place
// of any the parser returned: RapidJSON reads the whole document before
// OVMS looks at it.
func finishJSON(idx *rjson.Index) error {
	if err := idx.Check(); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError is the API error of a Validate error.
func jsonError(err error) error {
	var se *rjson.SyntaxError
	if errors.As(err, &se) {
		return apierr.Newf(apierr.JSONInvalid, "%s", se.Error())
	}
	return apierr.New(apierr.JSONNestingDepthExceeded)
}

// sizeHint is the number of values a tensor of the given shape holds
// (unknown dimensions count as 1), to size its value slice up front. The
// hints of a request share budget, which starts as the most numbers the
// document can hold (see newBudget), so that declared shapes cannot make
// a small body allocate much.
func sizeHint(shape []int64, budget *int) int {
	n := 1
	for _, d := range shape {
		switch {
		case d == 0:
			return 0
		case d < 0:
		case int64(n) > int64(*budget)/d:
			n = *budget
		default:
			n *= int(d)
		}
	}
	n = min(n, *budget)
	*budget -= n
	return n
}

// newBudget is the most numbers a document can hold: each takes at least
// two bytes with its separator.
func newBudget(c *rjson.Cursor) int { return c.Len()/2 + 1 }

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
