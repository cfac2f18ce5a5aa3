package rjson

import (
	"bytes"
	"strings"
	"testing"
)

// Every expected document below was produced by RapidJSON's Writer or
// PrettyWriter driven with the same calls.
func TestWriterLayouts(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
		new   func(*bytes.Buffer) *Writer
		want  string
	}{
		{
			name: "tfs row, one output per instance on one line",
			new:  func(b *bytes.Buffer) *Writer { return NewPrettyWriter(b, 4) },
			write: func(w *Writer) {
				w.StartObject()
				w.Key("predictions")
				w.StartArray()
				for item := 0; item < 2; item++ {
					w.SetSingleLineArray(true)
					w.StartArray()
					for i := 0; i < 3; i++ {
						w.Decimal32(float32(item*3 + i + 2))
					}
					w.EndArray()
					w.SetSingleLineArray(false)
				}
				w.EndArray()
				w.EndObject()
			},
			want: "{\n    \"predictions\": [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]\n    ]\n}",
		},
		{
			name: "tfs row, several outputs as objects",
			new:  func(b *bytes.Buffer) *Writer { return NewPrettyWriter(b, 4) },
			write: func(w *Writer) {
				w.StartObject()
				w.Key("predictions")
				w.StartArray()
				for item := 0; item < 2; item++ {
					w.StartObject()
					w.SetSingleLineArray(true)
					w.Key("a")
					w.StartArray()
					w.Int64(1)
					w.Int64(2)
					w.EndArray()
					w.Key("b_bytes")
					w.StartObject()
					w.Key("b64")
					w.String("aGk=")
					w.EndObject()
					w.SetSingleLineArray(false)
					w.EndObject()
				}
				w.EndArray()
				w.EndObject()
			},
			want: "{\n    \"predictions\": [\n        {\n            \"a\": [1, 2],\n            \"b_bytes\": {\n                \"b64\": \"aGk=\"\n            }\n        },\n" +
				"        {\n            \"a\": [1, 2],\n            \"b_bytes\": {\n                \"b64\": \"aGk=\"\n            }\n        }\n    ]\n}",
		},
		{
			name: "tfs row, scalar per instance",
			new:  func(b *bytes.Buffer) *Writer { return NewPrettyWriter(b, 4) },
			write: func(w *Writer) {
				w.StartObject()
				w.Key("predictions")
				w.StartArray()
				for item := 0; item < 2; item++ {
					w.SetSingleLineArray(true)
					w.Int64(int64(item))
					w.SetSingleLineArray(false)
				}
				w.EndArray()
				w.EndObject()
			},
			want: "{\n    \"predictions\": [0, 1\n    ]\n}",
		},
		{
			name: "tfs column, every element on its own line",
			new:  func(b *bytes.Buffer) *Writer { return NewPrettyWriter(b, 4) },
			write: func(w *Writer) {
				w.StartObject()
				w.Key("outputs")
				w.StartObject()
				w.Key("a")
				w.StartArray()
				w.StartArray()
				w.Int64(1)
				w.Int64(2)
				w.EndArray()
				w.EndArray()
				w.Key("s")
				w.String("x\"y\x01")
				w.EndObject()
				w.EndObject()
			},
			want: "{\n    \"outputs\": {\n        \"a\": [\n            [\n                1,\n                2\n            ]\n        ],\n        \"s\": \"x\\\"y\\u0001\"\n    }\n}",
		},
		{
			name: "kserve response, single-line arrays throughout",
			new: func(b *bytes.Buffer) *Writer {
				w := NewPrettyWriter(b, 4)
				w.SetSingleLineArray(true)
				return w
			},
			write: func(w *Writer) {
				w.StartObject()
				w.Key("model_name")
				w.String("m")
				w.Key("id")
				w.String("7")
				w.Key("model_version")
				w.String("3")
				w.Key("outputs")
				w.StartArray()
				w.StartObject()
				w.Key("name")
				w.String("a")
				w.Key("shape")
				w.StartArray()
				w.Int64(2)
				w.EndArray()
				w.Key("datatype")
				w.String("INT32")
				w.Key("parameters")
				w.StartObject()
				w.Key("binary_data_size")
				w.Int64(8)
				w.EndObject()
				w.EndObject()
				w.StartObject()
				w.Key("name")
				w.String("b")
				w.Key("shape")
				w.StartArray()
				w.EndArray()
				w.Key("datatype")
				w.String("BYTES")
				w.Key("data")
				w.StartArray()
				w.String("q")
				w.EndArray()
				w.EndObject()
				w.EndArray()
				w.EndObject()
			},
			want: "{\n    \"model_name\": \"m\",\n    \"id\": \"7\",\n    \"model_version\": \"3\",\n    \"outputs\": [{\n            \"name\": \"a\",\n            \"shape\": [2],\n" +
				"            \"datatype\": \"INT32\",\n            \"parameters\": {\n                \"binary_data_size\": 8\n            }\n        }, {\n" +
				"            \"name\": \"b\",\n            \"shape\": [],\n            \"datatype\": \"BYTES\",\n            \"data\": [\"q\"]\n        }]\n}",
		},
		{
			name: "compact",
			new:  newCompact,
			write: func(w *Writer) {
				w.StartObject()
				w.Key("name")
				w.String("d")
				w.Key("versions")
				w.StartArray()
				w.String("1")
				w.String("2")
				w.EndArray()
				w.Key("e")
				w.StartArray()
				w.EndArray()
				w.Key("o")
				w.StartObject()
				w.EndObject()
				w.EndObject()
			},
			want: `{"name":"d","versions":["1","2"],"e":[],"o":{}}`,
		},
		{
			name: "one-space indent and empty containers",
			new:  func(b *bytes.Buffer) *Writer { return NewPrettyWriter(b, 1) },
			write: func(w *Writer) {
				w.StartObject()
				w.Key("a")
				w.StartArray()
				w.EndArray()
				w.Key("b")
				w.StartObject()
				w.EndObject()
				w.Key("c")
				w.StartArray()
				w.StartObject()
				w.Key("x")
				w.Bool(false)
				w.EndObject()
				w.EndArray()
				w.EndObject()
			},
			want: "{\n \"a\": [],\n \"b\": {},\n \"c\": [\n  {\n   \"x\": false\n  }\n ]\n}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w := tt.new(&b)
			tt.write(w)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func newCompact(b *bytes.Buffer) *Writer { return NewWriter(b) }

func TestWriterFlushesLargeDocuments(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.StartArray()
	for i := 0; i < 100000; i++ {
		w.Int64(int64(i))
	}
	w.EndArray()
	big := bytes.Repeat([]byte{7}, 3*flushAt)
	w.WriteBytes(big)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if !strings.HasPrefix(s, "[0,1,2,") || !strings.HasSuffix(s, "99999]"+string(big)) {
		t.Fatalf("unexpected document of %d bytes", len(s))
	}
}

func TestEscaping(t *testing.T) {
	tests := []struct {
		in   string
		esc  Escaping
		want string
	}{
		{"a\"b\\c/\b\f\n\r\t\x01\x1f\x7f<>é", EscapeRapidJSON, `"a\"b\\c/\b\f\n\r\t\u0001\u001F` + "\x7f<>é\""},
		{"a\"b\\c/\b\f\n\r\t\x01\x1f\x7f<>é", EscapeProtobuf, `"a\"b\\c/\b\f\n\r\t\u0001\u001f\u007f\u003c\u003eé"`},
		{"\u2028x\u00ad\U000E0001", EscapeProtobuf, `"\u2028x\u00ad\udb40\udc01"`},
		{"ok\xc3(\xffend", EscapeProtobuf, `"okend"`}, // invalid UTF-8 is dropped with the byte it swallowed
		{"raw\xff", EscapeRapidJSON, "\"raw\xff\""},
	}
	for _, tt := range tests {
		if got := string(appendQuoted(nil, tt.in, tt.esc)); got != tt.want {
			t.Errorf("appendQuoted(%q, %d) = %s, want %s", tt.in, tt.esc, got, tt.want)
		}
	}
}
