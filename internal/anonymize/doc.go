// Package anonymize replaces the values of chosen output columns by their
// keyed BLAKE2b-512 digest, as NFStream's columns_to_anonymize does
// (docs/nfstream-semantics.md 6.2): the hex digest (128 characters) of the
// value's text (Python's str(value), UTF-8) under a 64-byte key. With the
// same key the same value always gives the same digest, so a key file makes
// anonymized outputs joinable across runs and sensors; a random key (as
// NFStream draws for every export) makes them unlinkable.
//
// It sits between the enrichment stages and the sink: Wrap decorates any
// output.Sink, whatever its format, by swapping the accessors of the chosen
// columns for ones that return the digest (the columns become strings).
package anonymize
