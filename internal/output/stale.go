package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// RemoveStaleTemps removes the temporary files that runs killed before
// their commit left for this output: hidden files ".<name>.tmp-<pid>-<n>"
// in the output's folder whose <pid> is no running process. A temporary
// file of a running process (another run writing the same name, or this
// one) is kept. path is the -o path; when template is true it is a
// rotation name template and every name it can expand to counts (its
// fields as wildcards, the repeat suffixes _<n> too), in every folder its
// folder part can expand to. A symbolic link is followed to the folder of
// its target, as Create does. It returns the paths removed; err is the
// first failure to list a folder or remove a file (the others are still
// tried). A folder that does not exist has nothing to remove.
func RemoveStaleTemps(path string, template bool) (removed []string, err error) {
	var dirs []string
	var match func(base string) bool
	if !template {
		d := Classify(path)
		if d.Kind != DestFile {
			return nil, nil
		}
		dir, base := filepath.Split(d.Target)
		if base == "" {
			return nil, nil
		}
		dirs = []string{dir}
		match = func(b string) bool { return b == base }
	} else {
		dirPattern, re := templatePatterns(path)
		if templateHasFields(filepath.Dir(path)) {
			dirs, err = filepath.Glob(dirPattern)
			if err != nil {
				return nil, fmt.Errorf("name template %q: %w", path, err)
			}
		} else {
			dirs = []string{strings.ReplaceAll(filepath.Dir(path), "%%", "%")}
		}
		match = re.MatchString
	}
	for _, dir := range dirs {
		r, derr := removeStaleIn(dir, match)
		removed = append(removed, r...)
		if derr != nil && err == nil {
			err = derr
		}
	}
	return removed, err
}

// tempRE splits a temporary name into the final base name and the pid.
var tempRE = regexp.MustCompile(`^\.(.+)\.tmp-([0-9]+)-[0-9]+$`)

func removeStaleIn(dir string, match func(base string) bool) (removed []string, err error) {
	if dir == "" {
		dir = "."
	}
	entries, rerr := os.ReadDir(dir)
	if rerr != nil {
		if errors.Is(rerr, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list folder %q: %w", dir, bareError(rerr))
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		m := tempRE.FindStringSubmatch(e.Name())
		if m == nil || !match(m[1]) {
			continue
		}
		pid, perr := strconv.Atoi(m[2])
		if perr != nil || processAlive(pid) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if rerr := os.Remove(p); rerr != nil {
			if err == nil && !errors.Is(rerr, os.ErrNotExist) {
				err = fmt.Errorf("remove %q: %w", p, bareError(rerr))
			}
			continue
		}
		removed = append(removed, p)
	}
	return removed, err
}

// processAlive reports whether a process with this pid exists (in this
// process's pid namespace). In doubt it says yes, so that a file is kept.
func processAlive(pid int) bool {
	if pid <= 0 {
		return true
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}

// templatePatterns returns a glob pattern for the folders a template's
// folder part expands to, and a regular expression matching the base
// names of its files: each field as the digits it expands to, the
// sequence number of a template without fields, and an optional repeat
// suffix _<n> before the output extension.
func templatePatterns(tmpl string) (dirGlob string, base *regexp.Regexp) {
	dir, file := filepath.Split(tmpl)
	var g strings.Builder
	for i := 0; i < len(dir); i++ {
		c := dir[i]
		if c == '%' && i+1 < len(dir) {
			i++
			switch dir[i] {
			case 'Y':
				g.WriteString("[0-9][0-9][0-9][0-9]")
			case 'm', 'd', 'H', 'M', 'S':
				g.WriteString("[0-9][0-9]")
			case 'i':
				g.WriteString("[0-9]*")
			default:
				g.WriteString(escapeGlob(string(dir[i])))
			}
			continue
		}
		g.WriteString(escapeGlob(string(c)))
	}
	dirGlob = filepath.Clean(g.String())

	stem, ext := SplitExt(file)
	var r strings.Builder
	r.WriteString("^")
	if !templateHasFields(tmpl) {
		r.WriteString(regexp.QuoteMeta(strings.ReplaceAll(stem, "%%", "%")))
		r.WriteString(`\.[0-9]+`)
	} else {
		for i := 0; i < len(stem); i++ {
			c := stem[i]
			if c == '%' && i+1 < len(stem) {
				i++
				switch stem[i] {
				case 'Y':
					r.WriteString(`[0-9]{4}`)
				case 'm', 'd', 'H', 'M', 'S':
					r.WriteString(`[0-9]{2}`)
				case 'i':
					r.WriteString(`[0-9]+`)
				default:
					r.WriteString(regexp.QuoteMeta(string(stem[i])))
				}
				continue
			}
			r.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	r.WriteString(`(_[0-9]+)?`)
	r.WriteString(regexp.QuoteMeta(strings.ReplaceAll(ext, "%%", "%")))
	r.WriteString("$")
	return dirGlob, regexp.MustCompile(r.String())
}

func escapeGlob(s string) string {
	if strings.ContainsAny(s, `*?[\`) {
		return `\` + s
	}
	return s
}
