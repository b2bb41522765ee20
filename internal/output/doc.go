// Package output is the last stage of the pipeline: sinks that write flow
// records as CSV, JSONL or Parquet, to standard output or to files.
//
// A Sink receives the columns first, then records one at a time, then
// Close. The text formats follow docs/compatibility.md "Output formats": NFStream's
// column names and order, strings in double quotes with inner quotes
// doubled, integers bare, floats as Python's repr writes them, lists as
// "[0, 1, -1]". Nothing is allocated per record: rows are appended into a
// reused buffer.
//
// ParquetSink types each column from its features.Column (ports uint16,
// protocol uint8, counters int64, floats double, dictionary-encoded
// strings, SPLT as lists) and writes row groups of a fixed number of rows,
// so its memory does not grow with the output.
//
// Files are written by decorators and helpers around those sinks:
//
//	Rotating    one file per interval or per N flows, from a name template
//	  fileSink  (FileConfig.Create) one file: format, optional gzip/zstd
//	    AtomicFile  hidden temporary name, renamed when complete
//	    liveFile    (FileConfig.LiveFlush) text written in place, flushed
//	    streamFile  a character device, FIFO or socket, written directly
//
// so a file appears under its final name only once its footer or
// compressor trailer is written and synced, and a write error removes it
// and stops the run with an error naming it. Classify decides what a path
// is (a symbolic link is followed to its target, a folder refused);
// RemoveStaleTemps clears the temporary files of killed runs, Abort
// (Aborter) discards an output, and AbortPending every temporary file of
// the process.
package output
