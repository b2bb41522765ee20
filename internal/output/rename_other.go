//go:build !linux

package output

import "os"

// renameNoReplace renames old to new unless new exists: a hard link fails
// when new exists, then old is removed. As on Linux without
// RENAME_NOREPLACE, a failure to remove old does not undo the rename: new
// is complete, and the temporary name left behind goes with the stale
// ones (RemoveStaleTemps).
func renameNoReplace(old, new string) error {
	if err := os.Link(old, new); err != nil {
		return err
	}
	os.Remove(old)
	return nil
}
