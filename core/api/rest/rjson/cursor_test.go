package rjson

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

func TestCursorWalksADocument(t *testing.T) {
	doc := []byte(` {"b": [1, [2, "x"], {"k": null}], "a\u0062": "s\"\u00e9\ud83d\ude00", "a": true, "b": false} `)
	if err := Validate(doc, 100); err != nil {
		t.Fatal(err)
	}
	c := NewCursor(doc)
	pos := make([]int, 3)
	c.FindMembers([]string{"b", "ab", "missing"}, pos)
	if pos[2] != -1 {
		t.Fatalf("missing key found at %d", pos[2])
	}
	c.Seek(pos[1])
	if got := string(c.String()); got != "s\"é😀" {
		t.Fatalf("string %q", got)
	}
	c.Seek(pos[0]) // the first "b" wins, as RapidJSON's FindMember
	if c.Kind() != KindArray || !c.EnterArray() || !c.NextElement() {
		t.Fatal("array expected")
	}
	if n := c.Number(); n.Int64() != 1 || !n.IsInt() {
		t.Fatalf("number %v", n)
	}
	if !c.NextElement() || c.Kind() != KindArray {
		t.Fatal("nested array expected")
	}
	c.Skip()
	if !c.NextElement() || c.Kind() != KindObject {
		t.Fatal("object expected")
	}
	c.EnterObject()
	k, ok := c.NextMember()
	if !ok || string(k) != "k" || c.Kind() != KindNull {
		t.Fatalf("member %q %v", k, ok)
	}
	c.Skip()
	if _, ok := c.NextMember(); ok {
		t.Fatal("object should end")
	}
	if c.NextElement() {
		t.Fatal("array should end")
	}
	if c.Bad() {
		t.Fatal("cursor went bad")
	}
}

func TestCursorStringsAliasTheDocument(t *testing.T) {
	doc := []byte(`"plain"`)
	s := NewCursor(doc).String()
	doc[1] = 'P'
	if string(s) != "Plain" {
		t.Fatalf("got %q: an unescaped string should alias the document", s)
	}
}

func TestCursorStaysSafeOnUncheckedInput(t *testing.T) {
	for _, doc := range []string{`{"a"`, `[1,`, `"abc`, `{`, `}`, ``} {
		c := NewCursor([]byte(doc))
		c.FindMembers([]string{"a"}, make([]int, 1))
		c.Skip()
		c.String()
		c.Number()
		c.Bool()
	}
}

// Flags as RapidJSON's GenericValue sets them for parsed numbers.
func TestNumberFlags(t *testing.T) {
	tests := []struct {
		raw                              string
		isInt, isUint, isInt64, isUint64 bool
		isDouble                         bool
		f                                float64
	}{
		{"0", true, true, true, true, false, 0},
		{"-0", true, true, true, true, false, 0},
		{"2147483647", true, true, true, true, false, 2147483647},
		{"2147483648", false, true, true, true, false, 2147483648},
		{"-2147483648", true, false, true, false, false, -2147483648},
		{"-2147483649", false, false, true, false, false, -2147483649},
		{"4294967296", false, false, true, true, false, 4294967296},
		{"9223372036854775808", false, false, false, true, false, 9223372036854775808},
		{"-9223372036854775808", false, false, true, false, false, -9223372036854775808},
		{"-9223372036854775809", false, false, false, false, true, -9223372036854775809},
		{"18446744073709551616", false, false, false, false, true, 18446744073709551616},
		{"1.0", false, false, false, false, true, 1},
		{"1e2", false, false, false, false, true, 100},
		{"-0.0", false, false, false, false, true, math.Copysign(0, -1)},
	}
	for _, tt := range tests {
		n := ParseNumber([]byte(tt.raw))
		got := [5]bool{n.IsInt(), n.IsUint(), n.IsInt64(), n.IsUint64(), n.IsDouble()}
		want := [5]bool{tt.isInt, tt.isUint, tt.isInt64, tt.isUint64, tt.isDouble}
		if got != want {
			t.Errorf("%s: flags %v, want %v", tt.raw, got, want)
		}
		if f := n.Float64(); f != tt.f || math.Signbit(f) != math.Signbit(tt.f) {
			t.Errorf("%s: Float64 %v, want %v", tt.raw, f, tt.f)
		}
	}
	if v := ParseNumber([]byte("-9223372036854775808")).Int64(); v != math.MinInt64 {
		t.Errorf("Int64 %d", v)
	}
	if v := ParseNumber([]byte("18446744073709551615")).Uint64(); v != math.MaxUint64 {
		t.Errorf("Uint64 %d", v)
	}
}

// Float64 must be strconv.ParseFloat, fast path or not.
func TestNumberFloat64IsCorrectlyRounded(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for i := 0; i < 300000; i++ {
		var s string
		switch i % 4 {
		case 0:
			s = strconv.FormatFloat(math.Float64frombits(r.Uint64()), 'g', -1, 64)
		case 1:
			s = strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.Intn(40)-20)), 'g', r.Intn(20)+1, 64)
		case 2:
			s = fmt.Sprintf("%d.%0*d", r.Intn(100000), r.Intn(8), r.Intn(1000))
		case 3:
			s = fmt.Sprintf("-%d%de%d", r.Int63(), r.Int63(), r.Intn(40)-20)
		}
		if strings.ContainsAny(s, "NI") {
			continue
		}
		s = strings.Replace(s, "e+", "e", 1)
		want, _ := strconv.ParseFloat(s, 64)
		n := ParseNumber([]byte(s))
		if got := n.Float64(); got != want && !(n.neg && n.mag == 0 && !n.double) {
			t.Fatalf("%s: Float64 %v, want %v", s, got, want)
		}
	}
}
