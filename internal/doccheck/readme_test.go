package doccheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
)

const repoRoot = "../.."

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// example is a fenced block of README.md that claims to be taken from a file.
type example struct {
	line  int    // README line of the marker
	file  string // repository-relative path named by the marker
	lines []string
}

var markerRE = regexp.MustCompile(`^\s*<!-- example: (\S+) -->\s*$`)

// examples finds every `<!-- example: PATH -->` marker and the fenced block
// right after it, with the block's own indentation (a list item's) removed.
func examples(t *testing.T, readme string) []example {
	t.Helper()
	lines := strings.Split(readme, "\n")
	var out []example
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		ex := example{line: i + 1, file: m[1]}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j == len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[j]), "```") {
			t.Errorf("README.md:%d: example marker is not followed by a fenced block", ex.line)
			continue
		}
		indent := lines[j][:len(lines[j])-len(strings.TrimLeft(lines[j], " "))]
		for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			ex.lines = append(ex.lines, strings.TrimRight(strings.TrimPrefix(lines[j], indent), " \t"))
		}
		if j == len(lines) {
			t.Errorf("README.md:%d: fenced block never closes", ex.line)
		}
		out = append(out, ex)
		i = j
	}
	return out
}

// containsRun reports whether want appears as consecutive lines of text,
// ignoring trailing white space.
func containsRun(text string, want []string) bool {
	have := strings.Split(text, "\n")
	for i := range have {
		have[i] = strings.TrimRight(have[i], " \t\r")
	}
	for start := 0; start+len(want) <= len(have); start++ {
		match := true
		for k, w := range want {
			if have[start+k] != w {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func TestReadmeExamplesAreTestedFiles(t *testing.T) {
	exs := examples(t, readRepoFile(t, "README.md"))
	if len(exs) < 5 {
		t.Fatalf("found %d example markers in README.md, want at least 5: were the markers removed?", len(exs))
	}
	for _, ex := range exs {
		t.Run(fmt.Sprintf("line%d", ex.line), func(t *testing.T) {
			if len(ex.lines) == 0 {
				t.Fatalf("README.md:%d: empty example", ex.line)
			}
			if !containsRun(readRepoFile(t, ex.file), ex.lines) {
				t.Errorf("README.md:%d: the example is not a run of lines of %s (update one to match the other):\n%s",
					ex.line, ex.file, strings.Join(ex.lines, "\n"))
			}
		})
	}
}

func TestContainsRun(t *testing.T) {
	text := "a\n\tb  \nc\n"
	tests := []struct {
		want []string
		ok   bool
	}{
		{[]string{"a", "\tb"}, true},
		{[]string{"\tb", "c"}, true},
		{[]string{"a", "c"}, false},
		{[]string{"b"}, false},
	}
	for _, tt := range tests {
		if got := containsRun(text, tt.want); got != tt.ok {
			t.Errorf("containsRun(%q) = %v, want %v", tt.want, got, tt.ok)
		}
	}
}

// The first two commands are what a newcomer runs; CI must run the second.
func TestReadmeCommands(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	i := strings.Index(readme, "```sh\n")
	if i < 0 {
		t.Fatal("README.md has no sh block")
	}
	block := strings.SplitN(readme[i+len("```sh\n"):], "```", 2)[0]
	var cmds []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(strings.SplitN(l, "#", 2)[0]); l != "" {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("README.md's first block has %d commands, want 2 (the main job, the tests): %q", len(cmds), cmds)
	}
	if !strings.HasPrefix(cmds[0], "go run ./cmd/supermachine-kernel ") {
		t.Errorf("first command %q does not run the CLI", cmds[0])
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd/supermachine-kernel/main.go")); err != nil {
		t.Error(err)
	}
	fi, err := os.Stat(filepath.Join(repoRoot, cmds[1]))
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("test command %q is not an executable file in the repository (%v)", cmds[1], err)
	}
	if ci := readRepoFile(t, ".ci/run"); !regexp.MustCompile(`(?m)^exec ` + regexp.QuoteMeta(cmds[1]) + `$`).MatchString(ci) {
		t.Errorf(".ci/run does not end by running README's test command %q", cmds[1])
	}
}

func TestReadmeSizesMatchManifest(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	m, err := manifest.Parse([]byte(readRepoFile(t, "assets/manifest.json")))
	if err != nil {
		t.Fatal(err)
	}
	mib := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	for _, a := range m.Assets {
		row := fmt.Sprintf("| `%s` |", a.Name)
		i := strings.Index(readme, row)
		if i < 0 {
			t.Errorf("README.md's asset table has no row for %s", a.Name)
			continue
		}
		line := strings.SplitN(readme[i:], "\n", 2)[0]
		for _, want := range []string{mib(a.Raw.Size), mib(a.XZ.Size)} {
			if !strings.Contains(line, "| "+want+" |") {
				t.Errorf("README.md's row for %s lacks %s (from the manifest): %s", a.Name, want, line)
			}
		}
	}
}
