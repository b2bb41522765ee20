// Package output is the last stage of the pipeline: sinks that write flow
// records as CSV or JSONL (and, later, Parquet), to standard output or to
// files.
//
// A Sink receives the columns first, then records one at a time, then
// Close. The text formats follow PRODUCT.md "Output formats": NFStream's
// column names and order, strings in double quotes with inner quotes
// doubled, integers bare, floats as Python's repr writes them, lists as
// "[0, 1, -1]". Nothing is allocated per record: rows are appended into a
// reused buffer.
package output
