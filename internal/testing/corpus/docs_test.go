package corpus

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdName matches a Markdown file name as text names it: letters, digits,
// "_", "-", "." and "/" ending in ".md" (compatibility.md,
// docs/design.md, ../README.md).
var mdName = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)

// urlText matches a URL, whose Markdown names are not the repository's.
var urlText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://\S+`)

// TestDocReferences walks the repository's tracked .go and .md files and
// fails when one names a Markdown document (a comment citing
// docs/compatibility.md, a link in a document) that does not exist in the
// repository. A name is looked for relative to the repository's top
// folder, to docs/ and to the naming file's own folder; names inside URLs
// are ignored.
func TestDocReferences(t *testing.T) {
	root := RepoRoot(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found: cannot list the tracked files")
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--", "*.go", "*.md").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): cannot list the tracked files", err)
	}
	// exists reports whether the slash path p, relative to the top
	// folder, is a file of the repository (not outside it).
	exists := func(p string) bool {
		p = path.Clean(p)
		if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
			return false
		}
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
		return err == nil
	}
	files, checked := 0, 0
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		for i, line := range bytes.Split(data, []byte("\n")) {
			line = urlText.ReplaceAll(line, nil)
			for _, m := range mdName.FindAll(line, -1) {
				ref := string(m)
				checked++
				dir := path.Dir(name)
				if exists(ref) || exists(path.Join("docs", ref)) || exists(path.Join(dir, ref)) {
					continue
				}
				t.Errorf("%s:%d names %s, which is not in the repository (looked in the top folder, docs/ and %s/)",
					name, i+1, ref, dir)
			}
		}
	}
	if files == 0 {
		t.Fatal("git ls-files listed no .go or .md file")
	}
	t.Logf("%d files, %d Markdown names checked", files, checked)
}
