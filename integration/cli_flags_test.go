package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docFlag is one row of the server flags table of docs/configuration.md.
type docFlag struct{ name, def, meaning string }

// docFlagTable reads the table whose header is "| flag | default |
// meaning |" from a markdown file: one row per flag, `--name` in the first
// column (backticks and \| escapes removed from the others).
func docFlagTable(t *testing.T, path string) []docFlag {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []docFlag
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "| flag | default | meaning |":
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			cells := splitRow(line)
			if len(cells) != 3 {
				t.Fatalf("%s: row %q has %d cells", path, line, len(cells))
			}
			rows = append(rows, docFlag{name: strings.Trim(cells[0], "`"), def: cells[1], meaning: cells[2]})
		case in:
			return rows
		}
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no flags table", path)
	}
	return rows
}

// splitRow splits a markdown table row on the | that are not escaped.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// helpFlagLine matches one option of urfave/cli's help: the names, an
// optional placeholder, then the usage after two or more spaces.
var helpFlagLine = regexp.MustCompile(`^\s+--([a-z_0-9]+)(?:, -\w+)?(?: [a-zA-Z_]+)?\s{2,}(.*)$`)

// helpDefault is the "(default: X)" urfave/cli appends to a usage.
var helpDefault = regexp.MustCompile(` \(default: (.*)\)$`)

// helpFlags maps each flag of a help text to its usage and default.
func helpFlags(help string) map[string][2]string {
	out := map[string][2]string{}
	for _, line := range strings.Split(help, "\n") {
		m := helpFlagLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		usage, def := m[2], ""
		if d := helpDefault.FindStringSubmatch(usage); d != nil {
			usage, def = strings.TrimSuffix(usage, d[0]), strings.Trim(d[1], `"`)
		}
		out[m[1]] = [2]string{usage, def}
	}
	return out
}

// TestCLIHelpMatchesDocs: `ovms --help` and `ovms serve --help` print,
// for every server flag, exactly the meaning and default of its row in
// the flags table of docs/configuration.md, and list no flag the table
// lacks.
func TestCLIHelpMatchesDocs(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rows := docFlagTable(t, filepath.Join(root, "docs", "configuration.md"))
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		code, out, stderr := runOVMS(t, args...)
		if code != 0 {
			t.Fatalf("ovms %v: exit %d %s", args, code, stderr)
		}
		help := helpFlags(out)
		for _, r := range rows {
			name := strings.TrimPrefix(r.name, "--")
			h, ok := help[name]
			if !ok {
				t.Errorf("ovms %v: no %s in the help", args, r.name)
				continue
			}
			if h[0] != r.meaning || h[1] != r.def {
				t.Errorf("ovms %v: %s\n help: %q (default %q)\n docs: %q (default %q)", args, r.name, h[0], h[1], r.meaning, r.def)
			}
			delete(help, name)
		}
		delete(help, "help")
		delete(help, "version")
		for name := range help {
			t.Errorf("ovms %v: --%s is not in the flags table of docs/configuration.md", args, name)
		}
	}
}

// TestCLIFlagsAfterArguments: every subcommand takes its flags before or
// after its positional arguments (as the docs write `plugin install PATH
// --plugin_dir D`).
func TestCLIFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(binDir, "ovms-device-mock")
	code, out, stderr := runOVMS(t, "plugin", "install", src, "--plugin_dir", dir)
	if code != 0 || !strings.Contains(out, "installed ovms-device-mock (sha256 ") || !strings.Contains(out, dir) {
		t.Fatalf("plugin install PATH --plugin_dir D: exit %d %s %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ovms-device-mock")); err != nil {
		t.Fatalf("not installed into --plugin_dir: %v", err)
	}
	code, out, stderr = runOVMS(t, "plugin", "inspect", "mock", "--plugin_dir", dir)
	if code != 0 || !strings.Contains(out, `"path": "`+filepath.Join(dir, "ovms-device-mock")+`"`) {
		t.Errorf("plugin inspect NAME --plugin_dir D: exit %d %s %s", code, out, stderr)
	}
	code, out, stderr = runOVMS(t, "plugin", "list", "--plugin_dir", dir)
	if code != 0 || !strings.Contains(out, "mock ") {
		t.Errorf("plugin list --plugin_dir D: exit %d %s %s", code, out, stderr)
	}
	code, out, stderr = runOVMS(t, "plugin", "remove", "mock", "--plugin_dir", dir)
	if code != 0 || !strings.Contains(out, "removed ovms-device-mock from "+dir) {
		t.Errorf("plugin remove NAME --plugin_dir D: exit %d %s %s", code, out, stderr)
	}
	// A flag value that looks like a flag, and -- ending the flags.
	code, _, stderr = runOVMS(t, "plugin", "install", "--plugin_dir", dir, "--", "--not-a-flag")
	if code != 1 || !strings.Contains(stderr, "--not-a-flag: a device plugin's file name must be ovms-device-<family>") {
		t.Errorf("plugin install -- --not-a-flag: exit %d %s", code, stderr)
	}

	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "dummy", "base_path": "`+filepath.Join(modelsDir, "dummy")+`"}}]}`)
	code, out, stderr = runOVMS(t, "validate", cfg, "--check_storage")
	if code != 0 || !strings.Contains(out, "valid, 1 model") {
		t.Errorf("validate FILE --check_storage: exit %d %s %s", code, out, stderr)
	}
	code, _, stderr = runOVMS(t, "bench", "stray", "--model_name", "dummy")
	if code != 64 || strings.TrimSpace(stderr) != "bench: unexpected arguments: stray" {
		t.Errorf("bench ARG --model_name: exit %d %q", code, stderr)
	}
	code, _, stderr = runOVMS(t, "serve", "stray", "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
	if code != 64 || strings.TrimSpace(stderr) != "error parsing options - unmatched arguments: stray," {
		t.Errorf("serve ARG --model_name: exit %d %q", code, stderr)
	}
}

// TestCLIUsageErrorsExit64: every subcommand answers a usage error (an
// unknown flag, a missing or extra argument, a missing required flag) with
// a message on stderr and exit code 64.
func TestCLIUsageErrorsExit64(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, `{"model_config_list": []}`)
	for _, args := range [][]string{
		{"--bogus"},
		{"serve", "--bogus"},
		{"serve", "stray"},
		{"bench", "--bogus"},
		{"bench"},
		{"bench", "-m", "dummy", "--format", "xml"},
		{"validate"},
		{"validate", "--bogus", cfg},
		{"validate", cfg, "other.json"},
		{"validate", cfg, "--config_path", cfg},
		{"plugin", "--bogus"},
		{"plugin", "list", "--bogus"},
		{"plugin", "list", "stray"},
		{"plugin", "install"},
		{"plugin", "install", "--bogus", "x"},
		{"plugin", "install", "a", "b"},
		{"plugin", "remove"},
		{"plugin", "remove", "--bogus", "x"},
		{"plugin", "inspect"},
		{"plugin", "inspect", "--bogus", "x"},
	} {
		code, _, stderr := runOVMS(t, args...)
		if code != 64 || strings.TrimSpace(stderr) == "" || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("ovms %v: exit %d, stderr %q; want 64 and one line", args, code, stderr)
		}
	}
}
