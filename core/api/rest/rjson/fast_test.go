package rjson

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// interesting are the bytes that matter to the number and run scanners.
const interesting = "0123456789.-+eE, \t\n\r/:[]{}\"\x01\x7fx\x80\xff\xb0\xae"

func randWord(r *rand.Rand) (uint64, []byte) {
	b := make([]byte, 8)
	for i := range b {
		if r.IntN(4) == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = interesting[r.IntN(len(interesting))]
		}
	}
	return binary.LittleEndian.Uint64(b), b
}

// The word-at-a-time helpers against byte-at-a-time definitions.
func TestSWARHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isNumberByte := func(c byte) bool { return c >= '-' && c <= '9' }
	isRunWord := func(c byte) bool { return c <= 0x20 || (c >= 0x2c && c <= 0x39) }
	marks := func(b []byte, f func(byte) bool) uint64 {
		var m uint64
		for i, c := range b {
			if f(c) {
				m |= 0x80 << (8 * i)
			}
		}
		return m
	}
	for range 1 << 20 {
		x, b := randWord(r)
		k := 0
		for k < 8 && isDigit(b[k]) {
			k++
		}
		if got := digitPrefix(x); got != k {
			t.Fatalf("digitPrefix(%q) = %d, want %d", b, got, k)
		}
		if got, want := nonDigits(x), marks(b, func(c byte) bool { return !isDigit(c) }); got != want {
			t.Fatalf("nonDigits(%q) = %x, want %x", b, got, want)
		}
		if got, want := numberStops(x), marks(b, func(c byte) bool { return !isNumberByte(c) }); got != want {
			t.Fatalf("numberStops(%q) = %x, want %x", b, got, want)
		}
		if got, want := runStops(x), marks(b, func(c byte) bool { return !isRunWord(c) }); got != want {
			t.Fatalf("runStops(%q) = %x, want %x", b, got, want)
		}
		if got, want := zeroBytes(x), marks(b, func(c byte) bool { return c == 0 }); got != want {
			t.Fatalf("zeroBytes(%q) = %x, want %x", b, got, want)
		}
		if got, want := zeroBytes(x^0x2e2e2e2e2e2e2e2e), marks(b, func(c byte) bool { return c == '.' }); got != want {
			t.Fatalf("dots(%q) = %x, want %x", b, got, want)
		}
		if k > 0 {
			want, _ := strconv.ParseUint(string(b[:k]), 10, 64)
			if got := parse8(x << (64 - 8*k)); got != want {
				t.Fatalf("parse8(%q<<) = %d, want %d", b[:k], got, want)
			}
			if got := parse8(load8(append(make([]byte, 8-k), b[:k]...), 0) & hiBytes[k]); got != want {
				t.Fatalf("parse8(%q right-aligned) = %d, want %d", b[:k], got, want)
			}
		}
	}
	for _, s := range []string{"", "1", "12345678", "123456789", "1234567890123456789", "12a", "1234567812345678x"} {
		d := []byte(s + "]")
		end := 0
		for end < len(d) && isDigit(d[end]) {
			end++
		}
		if got := digitsEnd(d, 0); got != end {
			t.Errorf("digitsEnd(%q) = %d, want %d", s, got, end)
		}
		if end <= 19 {
			want, _ := strconv.ParseUint(s[:end], 10, 64)
			if got := digitsValue(d, 0, end); got != want {
				t.Errorf("digitsValue(%q) = %d, want %d", s[:end], got, want)
			}
		}
	}
}

// randNumber returns a number token of one of many shapes; it may be
// invalid JSON when valid is false (leading zeros, missing digits).
func randNumber(r *rand.Rand, valid bool) string {
	digits := func(n int, lead bool) string {
		var b strings.Builder
		for i := range n {
			d := byte('0' + r.IntN(10))
			if i == 0 && lead && n > 1 && valid {
				d = byte('1' + r.IntN(9))
			}
			b.WriteByte(d)
		}
		return b.String()
	}
	var s string
	switch r.IntN(12) {
	case 0:
		f := math.Float32frombits(r.Uint32())
		if f != f || math.IsInf(float64(f), 0) {
			f = 1.5
		}
		s = strconv.FormatFloat(float64(f), 'g', -1, 32)
	case 1:
		f := math.Float64frombits(r.Uint64())
		if f != f || math.IsInf(f, 0) {
			f = -2.5
		}
		s = strconv.FormatFloat(f, 'g', -1, 64)
	case 2:
		s = strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.IntN(60)-30)), "fge"[r.IntN(3)], r.IntN(20)-1, 64)
	case 3:
		s = strconv.FormatFloat(float64(r.Float32()), 'g', -1, 32) // an image pixel
	case 4:
		s = strconv.FormatInt(r.Int64()>>r.IntN(64), 10)
	case 5:
		s = strconv.FormatUint(r.Uint64()>>r.IntN(64), 10)
	case 6: // around 2^53, 2^63, 2^64, 10^19
		base := []string{"9007199254740992", "9223372036854775808", "18446744073709551616", "10000000000000000000", "99999999999999999999"}[r.IntN(5)]
		v, _ := new(big.Int).SetString(base, 10)
		v.Add(v, big.NewInt(int64(r.IntN(7)-3)))
		s = v.String()
	case 7: // long mantissas
		s = digits(1+r.IntN(25), true)
		if r.IntN(2) == 0 {
			s += "." + digits(1+r.IntN(25), false)
		}
	case 8: // exponents, near the double and float ranges
		s = digits(1+r.IntN(3), true) + "." + digits(1+r.IntN(9), false) + "eE"[r.IntN(2):][:1] +
			[]string{"", "+", "-"}[r.IntN(3)] + strconv.Itoa([]int{r.IntN(50), 36 + r.IntN(6), 300 + r.IntN(30), 40 + r.IntN(10)}[r.IntN(4)])
	case 9: // short decimals
		s = digits(1+r.IntN(7), true) + "." + digits(1+r.IntN(14), false)
	case 10:
		s = []string{"0", "-0", "0.0", "-0.0", "0e0", "-0e-0", "1e38", "3.4028235e38", "3.4028236e38", "3.40282357e38",
			"3.4028234664e38", "3.4028235678e38", "1e39", "-1e39", "1.4e-45", "1.401298464324817e-45", "7e-46",
			"7.006492321624085e-46", "7.006492321624086e-46", "1e-46", "1.17549435e-38", "1.1754942e-38", "4.9e-324",
			"2.4703282292062328e-324", "2.4703282292062327e-324", "1.7976931348623157e308", "1.7976931348623158e308",
			"2.2250738585072011e-308", "1e-400", "0.000000000000000000000000000001", "123456789012345678901234567890e-10",
			"9007199254740993", "-9007199254740993", "0.1", "0.2", "0.3", "1e22", "1e23", "9999999999999999e22"}[r.IntN(39)]
	default: // float32 subnormals and neighbours of powers of ten
		if r.IntN(2) == 0 {
			s = strconv.FormatFloat(float64(math.Float32frombits(uint32(r.IntN(1<<23)))), 'g', -1, 32)
		} else {
			s = strconv.FormatFloat(math.Nextafter(math.Pow(10, float64(r.IntN(40)-20)), math.Inf(r.IntN(2)*2-1)), 'g', -1, 64)
		}
	}
	s = strings.Replace(s, "e+", []string{"e+", "e", "E+", "E"}[r.IntN(4)], 1)
	if r.IntN(8) == 0 && !strings.HasPrefix(s, "-") {
		s = "-" + s
	}
	if !valid && r.IntN(3) == 0 {
		switch r.IntN(4) {
		case 0:
			s = "0" + s
		case 1:
			s = strings.TrimRight(s, "0123456789")
		case 2:
			s = "-" + s
		case 3:
			s += "."
		}
	}
	return s
}

func sameNumber(a, b Number) bool {
	return bytes.Equal(a.raw, b.raw) && a.mag == b.mag && a.exp10 == b.exp10 && a.neg == b.neg && a.double == b.double && a.exact == b.exact
}

// The SWAR scanNum must give the byte-at-a-time one's Number, on any input.
func TestScanNumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(tok string) {
		for _, tail := range []string{"", "]", ",1", "                 ", "xxxxxxxxxxxxxxxxxx"} {
			data := []byte(" " + tok + tail)
			got, gotEnd := scanNum(data, 1)
			want, wantEnd := scanNumRef(data, 1)
			if !sameNumber(got, want) || gotEnd != wantEnd {
				t.Fatalf("scanNum(%q) = %+v %d, want %+v %d", data, got, gotEnd, want, wantEnd)
			}
		}
	}
	for range 300000 {
		check(randNumber(r, r.IntN(4) != 0))
	}
	for range 100000 { // any mix of number bytes
		b := make([]byte, 1+r.IntN(30))
		for i := range b {
			b[i] = "0123456789.-+eE0000"[r.IntN(19)]
		}
		check(string(b))
	}
}

// randDoc returns a document with long runs of numbers (they are left to
// readers), nested arrays, objects, strings and literals.
func randDoc(r *rand.Rand) []byte {
	var b bytes.Buffer
	var value func(depth int)
	seps := []string{",", ", ", " , ", ",\n  ", ",\t"}
	value = func(depth int) {
		switch k := r.IntN(10); {
		case k < 4 || depth > 4: // an array of numbers, often long
			sep := seps[r.IntN(len(seps))]
			n := r.IntN(3)
			if r.IntN(2) == 0 {
				n = 5 + r.IntN(80)
			}
			b.WriteByte('[')
			for i := range n {
				if i > 0 {
					b.WriteString(sep)
				}
				b.WriteString(randNumber(r, true))
			}
			if r.IntN(6) == 0 { // a mixed array
				if n > 0 {
					b.WriteString(sep)
				}
				b.WriteString([]string{`"s"`, `true`, `null`, `[1, 2]`, `{"a": 1}`, `false`}[r.IntN(6)])
				if r.IntN(2) == 0 {
					b.WriteString(sep + randNumber(r, true))
				}
			}
			b.WriteString([]string{"]", " ]", "\n]"}[r.IntN(3)])
		case k < 6:
			b.WriteByte('[')
			for i := range 1 + r.IntN(4) {
				if i > 0 {
					b.WriteString(", ")
				}
				value(depth + 1)
			}
			b.WriteByte(']')
		case k < 8:
			b.WriteByte('{')
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, `"k%d": `, r.IntN(5))
				value(depth + 1)
			}
			b.WriteByte('}')
		case k < 9:
			b.WriteString([]string{`"str"`, `"a\"b\u0041"`, `true`, `false`, `null`}[r.IntN(5)])
		default:
			b.WriteString(randNumber(r, true))
		}
	}
	value(0)
	return b.Bytes()
}

// mutate breaks a document at a few places, mostly inside runs of
// numbers.
func mutate(r *rand.Rand, doc []byte) []byte {
	doc = bytes.Clone(doc)
	for range 1 + r.IntN(3) {
		if len(doc) == 0 {
			return doc
		}
		i := r.IntN(len(doc))
		c := interesting[r.IntN(len(interesting))]
		switch r.IntN(3) {
		case 0:
			doc[i] = c
		case 1:
			doc = append(doc[:i], append([]byte{c}, doc[i:]...)...)
		case 2:
			doc = append(doc[:i], doc[i+1:]...)
		}
	}
	return TrimAtNUL(doc)
}

func sameErr(a, b error) bool {
	var sa, sb *SyntaxError
	switch {
	case a == nil || b == nil:
		return a == b
	case errors.As(a, &sa) && errors.As(b, &sb):
		return *sa == *sb
	}
	return errors.Is(a, ErrTooDeep) && errors.Is(b, ErrTooDeep)
}

func TestValidateMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		doc := randDoc(r)
		if i%4 != 0 {
			doc = mutate(r, doc)
		}
		for _, depth := range []int{100, 3} {
			if got, want := Validate(doc, depth), validateRef(doc, depth); !sameErr(got, want) {
				t.Fatalf("Validate(%q, %d) = %v, want %v", doc, depth, got, want)
			}
		}
	}
}

// readDoc reads a document as a parser would, taking runs of numbers with
// the run readers (chosen by r) or number by number.
func readDoc(c *Cursor, r *rand.Rand) {
	var value func()
	value = func() {
		switch c.Kind() {
		case KindObject:
			c.EnterObject()
			for {
				if _, ok := c.NextMember(); !ok {
					return
				}
				value()
			}
		case KindArray:
			c.EnterArray()
			if !c.NextElement() {
				return
			}
			for {
				if c.Kind() == KindNumber && r.IntN(5) != 0 {
					var done bool
					switch r.IntN(4) {
					case 0:
						_, _, done = AppendFloats(c, nil, func(n Number) float32 { return float32(n.Float64()) })
					case 1:
						_, _, done = AppendFloats(c, nil, Number.Float64)
					case 2:
						_, _, done, _ = AppendInts(c, nil, r.IntN(2) == 0, func(n Number) (int16, bool) { return int16(n.Int64()), true })
					default:
						_, _, done, _ = AppendNumbers(c, nil, func(n Number) (Number, bool) { return n, true })
					}
					if done {
						return
					}
					continue
				}
				value()
				if !c.NextElement() {
					return
				}
			}
		case KindString:
			c.String()
		case KindNumber:
			c.Number()
		default:
			c.Skip()
		}
	}
	value()
}

// ValidateIndex, then any reading, then Index.Check, must report what
// Validate reports.
func checkIndexed(t *testing.T, doc []byte, r *rand.Rand, depth int) {
	t.Helper()
	want := Validate(doc, depth)
	idx, err := ValidateIndex(doc, depth)
	if err != nil {
		if !sameErr(err, want) {
			t.Fatalf("ValidateIndex(%q) = %v, want %v", doc, err, want)
		}
		return
	}
	if r.IntN(4) != 0 {
		c := NewIndexedCursor(doc, idx)
		readDoc(c, r)
		if want == nil && c.Bad() {
			t.Fatalf("cursor out of step on %q", doc)
		}
	}
	if got := idx.Check(); !sameErr(got, want) {
		t.Fatalf("ValidateIndex+Check(%q) = %v, want %v", doc, got, want)
	}
}

func TestValidateIndexThenCheckIsValidate(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 30000 {
		doc := randDoc(r)
		if i%3 != 0 {
			doc = mutate(r, doc)
		}
		checkIndexed(t, doc, r, 100)
		checkIndexed(t, doc, r, 4)
	}
}

func FuzzValidateIndex(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 20 {
		f.Add(randDoc(r), uint64(1))
	}
	f.Add([]byte(`{"a": [1.5, 2.25, 3.125, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]}`), uint64(2))
	f.Fuzz(func(t *testing.T, doc []byte, seed uint64) {
		doc = TrimAtNUL(doc)
		checkIndexed(t, doc, rand.New(rand.NewPCG(seed, 0)), 100)
	})
}

// The run readers' numbers against strconv: float32 of the correctly
// rounded double (what OVMS does: GetDouble, then a cast; 1e39 becomes
// +Inf), and the double itself. The integer -0 reads as 0, as RapidJSON
// reads it (the JSON number -0 is an integer).
func TestAppendFloatsMatchesStrconv(t *testing.T) {
	docs, per := 20, 100000 // two million numbers
	if testing.Short() {
		docs = 3
	}
	r := rand.New(rand.NewPCG(11, 12))
	seps := []string{",", ", ", ",\n    ", " , "}
	for d := range docs {
		sep := seps[d%len(seps)]
		toks := make([]string, 0, per)
		doc := []byte(`{"data": [`)
		for len(toks) < per {
			tok := randNumber(r, true)
			if _, err := scanNumber([]byte(tok), 0); err != nil { // too big for a double
				continue
			}
			if len(toks) > 0 {
				doc = append(doc, sep...)
			}
			toks = append(toks, tok)
			doc = append(doc, tok...)
		}
		doc = append(doc, "]}"...)

		want32 := make([]float32, len(toks))
		want64 := make([]float64, len(toks))
		for i, tok := range toks {
			v, err := strconv.ParseFloat(tok, 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				t.Fatalf("%s: %v", tok, err)
			}
			if tok == "-0" {
				v = 0
			}
			want32[i], want64[i] = float32(v), v
		}
		read := func(f func(c *Cursor) (int, bool)) {
			t.Helper()
			idx, err := ValidateIndex(doc, 100)
			if err != nil {
				t.Fatal(err)
			}
			c := NewIndexedCursor(doc, idx)
			var pos [1]int
			c.FindMembers([]string{"data"}, pos[:])
			c.Seek(pos[0])
			c.EnterArray()
			c.NextElement()
			if n, done := f(c); !done || n != len(toks) || c.Bad() {
				t.Fatalf("read %d numbers (done %v, bad %v), want %d", n, done, c.Bad(), len(toks))
			}
			if err := idx.Check(); err != nil {
				t.Fatal(err)
			}
		}
		read(func(c *Cursor) (int, bool) {
			got, n, done := AppendFloats(c, make([]float32, 0, 8), func(n Number) float32 { return float32(n.Float64()) })
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want32[i]) {
					t.Fatalf("%s: float32 %v (%#x), want %v (%#x)", toks[i], got[i], math.Float32bits(got[i]), want32[i], math.Float32bits(want32[i]))
				}
			}
			return n, done
		})
		if d%3 != 0 { // the other readers on a third of the numbers
			continue
		}
		read(func(c *Cursor) (int, bool) {
			got, n, done := AppendFloats(c, nil, Number.Float64)
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want64[i]) {
					t.Fatalf("%s: float64 %v, want %v", toks[i], got[i], want64[i])
				}
			}
			return n, done
		})
		read(func(c *Cursor) (int, bool) {
			got, n, done, _ := AppendNumbers(c, nil, func(n Number) (Number, bool) { return n, true })
			for i := range got {
				if ref := ParseNumber([]byte(toks[i])); !sameNumber(got[i], ref) {
					t.Fatalf("%s: Number %+v, want %+v", toks[i], got[i], ref)
				}
			}
			return n, done
		})
	}
}

// The readers stop where the numbers stop, whatever follows them.
func TestRunReadersStopAtOtherElements(t *testing.T) {
	long := strings.Repeat("1.5, ", 30)
	for _, tt := range []struct {
		doc  string
		n    int
		done bool
		next string // what the cursor is on when not done
	}{
		{`[` + long + `2]`, 31, true, ""},
		{`[` + long + `"x"]`, 30, false, `"x"]`},
		{`[` + long + `[2]]`, 30, false, `[2]]`},
		{`[` + long + `{"a": 1}]`, 30, false, `{"a": 1}]`},
		{`[` + long + `true, 3]`, 30, false, `true, 3]`},
		{`[1, 2, null]`, 2, false, `null]`},
		{`[-0, 0.5e1]`, 2, true, ""},
	} {
		for _, indexed := range []bool{false, true} {
			doc := []byte(tt.doc)
			idx, err := ValidateIndex(doc, 100)
			if err != nil {
				t.Fatal(err)
			}
			c := NewCursor(doc)
			if indexed {
				c = NewIndexedCursor(doc, idx)
			}
			c.EnterArray()
			c.NextElement()
			got, n, done := AppendFloats(c, nil, Number.Float64)
			if n != tt.n || len(got) != n || done != tt.done || c.Bad() {
				t.Fatalf("%s: %d numbers, done %v, bad %v", tt.doc, n, done, c.Bad())
			}
			if !done && string(doc[c.Pos():]) != tt.next {
				t.Fatalf("%s: cursor on %q", tt.doc, doc[c.Pos():])
			}
			if done && c.Pos() != len(doc) {
				t.Fatalf("%s: cursor at %d", tt.doc, c.Pos())
			}
			if err := idx.Check(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A run of numbers with an error in it: ValidateIndex leaves it to the
// readers, and Check reports Validate's error, read or not.
func TestIndexCheckReportsRunErrors(t *testing.T) {
	long := strings.Repeat("1.5,", 40)
	for _, doc := range []string{
		`[` + long + `1.x]`,
		`[` + long + `1 2]`,
		`[` + long + `01]`,
		`[` + long + `1.]`,
		`[` + long + `1e]`,
		`[` + long + `1e400]`,
		`[` + long + `,]`,
		`[` + long + `]`,
		`[` + long + `--1]`,
		`[` + long + "1\x01]",
		`[` + long + `1/2]`,
		`[` + long + `1.5 1.5, 2]`,
		`{"a": [` + long + `+1], "b": [}`,  // the run's error comes first
		`{"a": [}, "b": [` + long + `+1]}`, // the structure's error comes first
		`[[` + long + `1], [` + long + `.5]]`,
	} {
		want := Validate([]byte(doc), 100)
		if want == nil {
			t.Fatalf("%s: valid", doc)
		}
		for _, read := range []bool{false, true} {
			idx, err := ValidateIndex([]byte(doc), 100)
			if err == nil {
				if read {
					readDoc(NewIndexedCursor([]byte(doc), idx), rand.New(rand.NewPCG(1, 1)))
				}
				err = idx.Check()
			}
			if !sameErr(err, want) {
				t.Errorf("%s: got %v, want %v", doc, err, want)
			}
		}
	}
}

// AppendInts' fast path against its conversion on every number.
func TestAppendIntsMatchesConv(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	toks := []string{"-0", "0", "-1", "9999999", "-9999999", "10000000", "-10000000", "255", "256", "-129"}
	for len(toks) < 200000 {
		switch r.IntN(3) {
		case 0:
			toks = append(toks, strconv.Itoa(r.IntN(2000)-1000))
		case 1:
			toks = append(toks, strconv.FormatInt(r.Int64()>>r.IntN(64), 10))
		default:
			toks = append(toks, randNumber(r, true))
		}
	}
	toks = slices.DeleteFunc(toks, func(tok string) bool { _, err := scanNumber([]byte(tok), 0); return err != nil })
	doc := []byte("[" + strings.Join(toks, ", ") + "]")
	read := func(t *testing.T, f func(c *Cursor) bool) {
		t.Helper()
		idx, err := ValidateIndex(doc, 100)
		if err != nil {
			t.Fatal(err)
		}
		c := NewIndexedCursor(doc, idx)
		c.EnterArray()
		c.NextElement()
		if !f(c) {
			return
		}
		if err := idx.Check(); err != nil {
			t.Fatal(err)
		}
	}
	// A cast: every number converts.
	cast := func(n Number) (uint8, bool) { return uint8(n.Int64()), true }
	read(t, func(c *Cursor) bool {
		got, n, done, ok := AppendInts(c, nil, false, cast)
		if !done || !ok || n != len(toks) {
			t.Fatalf("read %d, done %v ok %v", n, done, ok)
		}
		for i, tok := range toks {
			if want, _ := cast(ParseNumber([]byte(tok))); got[i] != want {
				t.Fatalf("%s: %d, want %d", tok, got[i], want)
			}
		}
		return true
	})
	// A range check: reading stops at the first number out of range.
	for _, unsigned := range []bool{false, true} {
		check := func(n Number) (int64, bool) { return n.Int64(), n.IsInt64() && (!unsigned || n.IsUint64()) }
		read(t, func(c *Cursor) bool {
			got, n, _, ok := AppendInts(c, nil, unsigned, check)
			for i := range n {
				if want, wok := check(ParseNumber([]byte(toks[i]))); !wok || got[i] != want {
					t.Fatalf("%s: %d, want %d %v", toks[i], got[i], want, wok)
				}
			}
			if ok {
				t.Fatalf("read all %d", n)
			}
			if _, wok := check(ParseNumber([]byte(toks[n]))); wok {
				t.Fatalf("stopped at %s", toks[n])
			}
			return false
		})
	}
}
