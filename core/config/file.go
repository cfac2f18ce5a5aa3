package config

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	kjson "github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// File is a parsed and validated config.json.
type File struct {
	// Path is the file the configuration was read from.
	Path string
	// Hash is the SHA-256 of its bytes; the watcher compares it.
	Hash [sha256.Size]byte
	// Models are the model_config_list entries that passed the semantic
	// checks, in file order, with base paths resolved.
	Models []Model
	// Pipelines are the pipeline_config_list entries (DAGs) that passed
	// the file-level checks, in file order (core/pipeline validates them
	// against the models).
	Pipelines []Pipeline
	// Problems are entries skipped by the semantic checks (each model
	// problem skips that model only, as in OVMS).
	Problems []Problem
	// Warnings are accepted settings without effect (logged).
	Warnings []Problem
	// NodeLibraries are the custom_node_library_config_list entries that
	// passed the checks, in file order, with base paths resolved.
	NodeLibraries []NodeLibrary
	// Monitoring is the "monitoring": {"metrics": ...} section; nil when
	// the file has none. The server reads it once, at start.
	Monitoring *Monitoring
}

// Monitoring is config.json's metrics setting.
type Monitoring struct {
	// Enable is monitoring.metrics.enable.
	Enable bool
	// List is monitoring.metrics.metrics_list; nil when absent.
	List []string
}

// Problem is one finding, located by a JSON pointer into the file.
type Problem struct {
	// Path is a JSON pointer, e.g. /model_config_list/2/config/nireq.
	Path string
	// Message says what is wrong, with OVMS's wording where it has one.
	Message string
}

// String is "path: message".
func (p Problem) String() string {
	path := p.Path
	if path == "" {
		path = "(root)"
	}
	return path + ": " + p.Message
}

// FileError is a configuration file that cannot be used at all: unreadable,
// not JSON, or not valid according to the schema. At startup the server
// refuses to start; on reload nothing changes.
type FileError struct {
	// Path is the file.
	Path string
	// Reason is OVMS's message: "Configuration file not found or cannot
	// open", "The file is not valid json".
	Reason string
	// Problems lists every schema violation (empty for unreadable or
	// unparsable files, whose cause is in Err).
	Problems []Problem
	// Err is the underlying cause.
	Err error
}

// Error gives the reason and the first problem or cause.
func (e *FileError) Error() string {
	switch {
	case len(e.Problems) > 0:
		msg := fmt.Sprintf("%s: %s: %s", e.Path, e.Reason, e.Problems[0])
		if n := len(e.Problems) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more; run ovms validate --config_path %s)", n, e.Path)
		}
		return msg
	case e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Path, e.Reason, e.Err)
	}
	return e.Path + ": " + e.Reason
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// The OVMS reasons of a FileError.
const (
	ReasonCannotOpen = "Configuration file not found or cannot open"
	ReasonNotJSON    = "The file is not valid json"
)

//go:embed schema.json
var schemaJSON []byte

// schema compiles schema.json on first use (not at the start of every ovms
// process: single-model mode never needs it).
var schema = sync.OnceValue(func() *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		panic(fmt.Sprintf("config: embedded schema: %v", err))
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("ovms-config.json", doc); err != nil {
		panic(fmt.Sprintf("config: embedded schema: %v", err))
	}
	s, err := c.Compile("ovms-config.json")
	if err != nil {
		panic(fmt.Sprintf("config: embedded schema: %v", err))
	}
	return s
})

// readAttempts and readDelay are OVMS's MAX_CONFIG_JSON_READ_RETRY_COUNT
// and its pause, for files caught half-written.
const (
	readAttempts = 3
	readDelay    = 100 * time.Millisecond
)

// MaxFileBytes bounds the size of a config.json (OVMS's configs are a few
// KiB; the bound only stops a runaway file).
const MaxFileBytes = 64 << 20

// ReadConfigFile reads a config.json: a regular file (a link to one is
// followed) of at most MaxFileBytes. A FIFO, a device or a folder is
// refused at once instead of blocking or reading without end.
func ReadConfigFile(path string) ([]byte, error) {
	return modelfile.ReadFile(path, MaxFileBytes)
}

// LoadFile reads, validates and parses a config.json. Relative base paths
// resolve against the file's folder. A parse that fails as JSON is retried
// (a writer may be mid-way), as OVMS does.
func LoadFile(path string) (*File, error) {
	var (
		f   *File
		err error
	)
	for i := 0; i < readAttempts; i++ {
		if i > 0 {
			time.Sleep(readDelay)
		}
		var data []byte
		data, err = ReadConfigFile(path)
		if err != nil {
			return nil, &FileError{Path: path, Reason: ReasonCannotOpen, Err: err}
		}
		f, err = ParseFile(path, data)
		var fe *FileError
		if err == nil || !errors.As(err, &fe) || len(fe.Problems) > 0 {
			break // a schema violation will not fix itself
		}
	}
	return f, err
}

// ParseFile validates data (the contents of path) against the schema and
// parses its models.
func ParseFile(path string, data []byte) (*File, error) {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, &FileError{Path: path, Reason: ReasonNotJSON, Err: fmt.Errorf("Configuration file is not a valid JSON file. Error: %w", err)}
	}
	if err := schema().Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, &FileError{Path: path, Reason: ReasonNotJSON, Err: err}
		}
		return nil, &FileError{Path: path, Reason: ReasonNotJSON, Problems: schemaProblems(ve)}
	}
	doc, err := decodeDoc(data)
	if err != nil {
		return nil, &FileError{Path: path, Reason: ReasonNotJSON, Err: err}
	}
	f := &File{Path: path, Hash: sha256.Sum256(data)}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	doc.apply(f, dir)
	return f, nil
}

// decodeDoc decodes a schema-valid config.json into its document.
//
// encoding/json straight into fileDoc: for a document the schema accepted
// this gives what koanf's map and mapstructure's weakly typed decode of it
// give (the schema fixes every field's JSON type, and allows no key that
// differs from a field's name only in case), at a sixth of the CPU and a
// quarter of the allocations (a 200-model config.json: about 1.4 ms with
// the scan for repeated keys, instead of 8-9 ms; docs/performance.md, "Many
// models"). What was slow mattered
// because every reload of a changed file parses it while serving.
// TestDecodeDocMatchesKoanf and FuzzDecodeDoc compare the two.
//
// A document it cannot decode (a number beyond float64, which the schema
// lets through) is decoded again the former way, koanf and mapstructure,
// so that the error ovms reports is the one it always reported; so is a
// document with a key repeated in one object: the schema validator and
// koanf keep the last value, where encoding/json would merge two objects
// given under one key into one.
func decodeDoc(data []byte) (*fileDoc, error) {
	if !hasRepeatedKey(data) {
		var doc fileDoc
		if err := json.Unmarshal(data, &doc); err == nil {
			return &doc, nil
		}
	}
	return decodeDocKoanf(data)
}

// hasRepeatedKey reports whether an object of the JSON document data has a
// key twice; false for data that is not JSON (decodeDoc then fails on it).
func hasRepeatedKey(data []byte) bool {
	type level struct {
		keys    map[string]bool // nil for an array
		wantKey bool            // an object between a value and the next key
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*level
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return true
			}
			top.keys[key], top.wantKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &level{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// decodeDocKoanf decodes config.json through koanf and mapstructure (with
// koanf's defaults: weakly typed input), ovms's decoder before decodeDoc;
// it is kept for the documents decodeDoc refuses, whose error it gives.
func decodeDocKoanf(data []byte) (*fileDoc, error) {
	k := koanf.New("\x00") // no key is split: plugin_config keys contain dots
	if err := k.Load(rawbytes.Provider(data), kjson.Parser()); err != nil {
		return nil, err
	}
	var doc fileDoc
	if err := k.UnmarshalWithConf("", &doc, koanf.UnmarshalConf{Tag: "json"}); err != nil {
		return nil, err
	}
	return &doc, nil
}

// schemaProblems flattens a validation error tree into its leaves, sorted
// by location. Under a oneOf/anyOf, the one alternative that got furthest
// into the value (deepest error) is taken as the one meant; when none
// stands out, the alternatives are reported as one problem.
func schemaProblems(ve *jsonschema.ValidationError) []Problem {
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, Problem{Path: pointer(e.InstanceLocation), Message: leafMessage(e)})
			return
		}
		switch e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			best, bestDepth, tie := -1, len(e.InstanceLocation), false
			for i, c := range e.Causes {
				switch d := depth(c); {
				case d > bestDepth:
					best, bestDepth, tie = i, d, false
				case d == bestDepth && best >= 0:
					tie = true
				}
			}
			msg, worded := alternativesMessage(e.SchemaURL)
			if best >= 0 && !tie && !strings.HasSuffix(e.SchemaURL, "/definitions/nodeConfig") {
				walk(e.Causes[best])
				return
			}
			if worded {
				out = append(out, Problem{Path: pointer(e.InstanceLocation), Message: msg})
				return
			}
			var alts []string
			for _, c := range e.Causes {
				for _, l := range leaves(c) {
					alts = append(alts, leafMessage(l))
				}
			}
			out = append(out, Problem{Path: pointer(e.InstanceLocation), Message: "matches none of the allowed forms: " + strings.Join(alts, "; or ")})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return dedupe(out)
}

// alternatives words the schema's oneOf/anyOf choices that users get
// wrong, by the schema location of the choice.
var alternatives = map[string]string{
	"/definitions/versionPolicy":                     `must be one of {"all": {}}, {"latest": {"num_versions": N}} or {"specific": {"versions": [N, ...]}} (N >= 1)`,
	"/definitions/shapeOrLayout":                     `must be a string (e.g. "(1,3,224,224)", "auto", "NHWC:NCHW") or an object of such strings per input name`,
	"/definitions/nodeConfig":                        `a "DL model" node needs model_name and no library_name; a "custom" node needs library_name and no model_name`,
	"/properties/plugin_config/additionalProperties": `must be a string, a boolean or a number`,
}

// alternativesMessage finds the wording for a failed choice.
func alternativesMessage(schemaURL string) (string, bool) {
	for suffix, msg := range alternatives {
		if strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(schemaURL, "/oneOf"), "/anyOf"), suffix) {
			return msg, true
		}
	}
	return "", false
}

// leaves are the errors without causes under e.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// depth is how deep into the value the deepest error under e lies.
func depth(e *jsonschema.ValidationError) int {
	d := len(e.InstanceLocation)
	for _, c := range e.Causes {
		d = max(d, depth(c))
	}
	return d
}

func dedupe(ps []Problem) []Problem {
	var out []Problem
	seen := map[Problem]bool{}
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// pointer builds a JSON pointer from path segments.
func pointer(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// leafMessage is the schema library's message for one violation, without
// its location (Problem carries that).
func leafMessage(e *jsonschema.ValidationError) string {
	msg := e.ErrorKind.LocalizedString(englishPrinter)
	return strings.TrimSpace(msg)
}

var englishPrinter = message.NewPrinter(language.English)

// jsonText renders a JSON value for a message.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
