package rjson

import (
	"errors"
	"strings"
	"testing"
)

// The expected messages and offsets were produced by RapidJSON's iterative
// Reader (the parser behind OVMS's parseJsonWithDepthLimit).
func TestValidateReportsRapidJSONErrors(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{``, "Error: The document is empty. Offset: 0"},
		{`   `, "Error: The document is empty. Offset: 3"},
		{`{`, "Error: Missing a name for object member. Offset: 1"},
		{`[`, "Error: Invalid value. Offset: 1"},
		{`]`, "Error: The document is empty. Offset: 0"},
		{`}`, "Error: The document is empty. Offset: 0"},
		{`x`, "Error: Invalid value. Offset: 0"},
		{`nul`, "Error: Invalid value. Offset: 3"},
		{`nulL`, "Error: Invalid value. Offset: 3"},
		{`tru`, "Error: Invalid value. Offset: 3"},
		{`truex`, "Error: The document root must not be followed by other values. Offset: 4"},
		{`falsy`, "Error: Invalid value. Offset: 4"},
		{`-`, "Error: Invalid value. Offset: 1"},
		{`-a`, "Error: Invalid value. Offset: 1"},
		{`01`, "Error: The document root must not be followed by other values. Offset: 1"},
		{`1.`, "Error: Miss fraction part in number. Offset: 2"},
		{`1.e5`, "Error: Miss fraction part in number. Offset: 2"},
		{`1e`, "Error: Miss exponent in number. Offset: 2"},
		{`1e+`, "Error: Miss exponent in number. Offset: 3"},
		{`1E-x`, "Error: Miss exponent in number. Offset: 3"},
		{`1e309`, "Error: Number too big to be stored in double. Offset: 0"},
		{`0e400`, "Error: Number too big to be stored in double. Offset: 0"},
		{`-1e309`, "Error: Number too big to be stored in double. Offset: 0"},
		{`[1, 2e999]`, "Error: Number too big to be stored in double. Offset: 4"},
		{`{"a"}`, "Error: Missing a colon after a name of object member. Offset: 4"},
		{`{"a":}`, "Error: Invalid value. Offset: 5"},
		{`{"a":1`, "Error: Missing a comma or '}' after an object member. Offset: 6"},
		{`{"a":1,}`, "Error: Missing a name for object member. Offset: 7"},
		{`{"a":1 "b":2}`, "Error: Missing a comma or '}' after an object member. Offset: 7"},
		{`{1:2}`, "Error: Missing a name for object member. Offset: 1"},
		{`{"a" 1}`, "Error: Missing a colon after a name of object member. Offset: 5"},
		{`[1,]`, "Error: Invalid value. Offset: 3"},
		{`[1 2]`, "Error: Missing a comma or ']' after an array element. Offset: 3"},
		{`[1,2`, "Error: Missing a comma or ']' after an array element. Offset: 4"},
		{`["a]`, "Error: Missing a closing quotation mark in string. Offset: 4"},
		{`"\x"`, "Error: Invalid escape character in string. Offset: 1"},
		{`"\u12g4"`, "Error: Incorrect hex digit after \\u escape in string. Offset: 1"},
		{`"\ud800"`, "Error: The surrogate pair in string is invalid. Offset: 1"},
		{`"\ud800\u0041"`, "Error: The surrogate pair in string is invalid. Offset: 1"},
		{`"\ud800x"`, "Error: The surrogate pair in string is invalid. Offset: 1"},
		{`"\udc00"`, "Error: The surrogate pair in string is invalid. Offset: 1"},
		// RapidJSON 1.1.0 said "Invalid escape character"; current RapidJSON
		// (as built into OVMS) reports raw control characters so.
		{"\"a\tb\"", "Error: Invalid encoding in string. Offset: 2"},
		{`"abc`, "Error: Missing a closing quotation mark in string. Offset: 4"},
		{`{"a":[1,2,{"b":null}]} x`, "Error: The document root must not be followed by other values. Offset: 23"},
		{`{"a":tru}`, "Error: Invalid value. Offset: 8"},
		{`[1,{"a":2,}]`, "Error: Missing a name for object member. Offset: 10"},
		{`NaN`, "Error: Invalid value. Offset: 0"},
		{`Infinity`, "Error: Invalid value. Offset: 0"},
		{`-Infinity`, "Error: Invalid value. Offset: 1"},
		{`1 2`, "Error: The document root must not be followed by other values. Offset: 2"},
		{`1.5e308`, ""},
		{`{"instances": [[1.0, 2.0]]}`, ""},
		{`[[[]]]`, ""},
		{`{}`, ""},
		{`[]`, ""},
		{`""`, ""},
		{` {"a" : [ 1 , -2.5e-3 ], "b": "\ud83d\ude00\n\/"} `, ""},
	}
	for _, tt := range tests {
		err := Validate([]byte(tt.doc), 100)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(%q) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}

func TestValidateDepthLimit(t *testing.T) {
	ok := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if err := Validate([]byte(ok), 100); err != nil {
		t.Fatalf("depth 100: %v", err)
	}
	deep := strings.Repeat(`{"a":[`, 51) + strings.Repeat("]}", 51)
	if err := Validate([]byte(deep), 100); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("depth 102: got %v, want ErrTooDeep", err)
	}
	// A syntax error before the limit is reached wins, as in RapidJSON.
	early := "[x" + strings.Repeat("[", 200)
	var se *SyntaxError
	if err := Validate([]byte(early), 100); !errors.As(err, &se) || se.Offset != 1 {
		t.Fatalf("got %v, want the syntax error at offset 1", err)
	}
}

func TestTrimAtNUL(t *testing.T) {
	if got := string(TrimAtNUL([]byte("{}\x00garbage"))); got != "{}" {
		t.Fatalf("got %q", got)
	}
	if got := string(TrimAtNUL([]byte("{}"))); got != "{}" {
		t.Fatalf("got %q", got)
	}
}
