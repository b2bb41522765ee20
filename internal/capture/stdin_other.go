//go:build !unix

package capture

import (
	"io"
	"os"
)

// pollableStdin: standard input is read with blocking reads here.
func pollableStdin() (*os.File, io.Closer) { return nil, nil }

// RestoreStdin does nothing here: standard input keeps its mode.
func RestoreStdin() {}
