//go:build !linux

package output

import "os"

// renameNoReplace renames old to new unless new exists: a hard link fails
// when new exists, then old is removed.
func renameNoReplace(old, new string) error {
	if err := os.Link(old, new); err != nil {
		return err
	}
	return os.Remove(old)
}
