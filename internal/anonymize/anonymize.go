package anonymize

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"strconv"

	"golang.org/x/crypto/blake2b"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// KeySize is the key length in bytes (NFStream: secrets.token_bytes(64)).
const KeySize = 64

// DigestHexSize is the length of an anonymized value: a 64-byte digest in
// lower-case hex.
const DigestHexSize = 2 * blake2b.Size

// NewKey draws a random key from crypto/rand.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("anonymize: drawing a random key: %w", err)
	}
	return key, nil
}

// LoadKey reads a key file: either the 64 key bytes themselves, or the key
// as 128 hex digits (surrounding white space, such as a final newline, is
// ignored). Anything else is an error naming the file.
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("anonymization key %q: %w", path, err)
	}
	return ParseKey(path, b)
}

// ParseKey reads the contents of a key file named name (see LoadKey).
func ParseKey(name string, b []byte) ([]byte, error) {
	if len(b) == KeySize {
		return b, nil
	}
	text := bytes.TrimSpace(b)
	if len(text) == 2*KeySize {
		key := make([]byte, KeySize)
		if _, err := hex.Decode(key, text); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("anonymization key %q: want %d bytes, or %d hex digits; the file has %d bytes", name, KeySize, 2*KeySize, len(b))
}

// Hasher computes keyed BLAKE2b-512 digests. It is not safe for concurrent
// use.
type Hasher struct {
	h   hash.Hash
	sum []byte
}

// NewHasher returns a Hasher for key (1 to 64 bytes).
func NewHasher(key []byte) (*Hasher, error) {
	h, err := blake2b.New512(key)
	if err != nil {
		return nil, fmt.Errorf("anonymize: %w", err)
	}
	return &Hasher{h: h, sum: make([]byte, 0, blake2b.Size)}, nil
}

// AppendHex appends the hex digest of text to dst.
func (h *Hasher) AppendHex(dst, text []byte) []byte {
	h.h.Reset() // back to the keyed initial state
	h.h.Write(text)
	h.sum = h.h.Sum(h.sum[:0])
	return hex.AppendEncode(dst, h.sum)
}

// AppendText appends the text Python's str() gives the column's value in r
// (what NFStream hashes): integers in decimal, floats as repr, strings as
// they are, lists as "[0, 1, -1]".
func AppendText(dst []byte, c *features.Column, r *features.Record) []byte {
	switch c.Kind {
	case features.KindUint:
		return strconv.AppendUint(dst, c.Uint(r), 10)
	case features.KindInt:
		return strconv.AppendInt(dst, c.Int(r), 10)
	case features.KindFloat:
		return output.AppendPyFloat(dst, c.Float(r))
	case features.KindString:
		return c.String(r, dst)
	case features.KindList:
		dst = append(dst, '[')
		for i, n := 0, c.ListLen(r); i < n; i++ {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = strconv.AppendInt(dst, c.List(r, i), 10)
		}
		return append(dst, ']')
	}
	return dst
}

// Columns returns a copy of cols in which each column named in names is a
// string column holding the digest of the original value's text. A name
// that is not a column is an error naming it.
func Columns(cols []features.Column, names []string, key []byte) ([]features.Column, error) {
	out := append([]features.Column(nil), cols...)
	done := make(map[int]bool, len(names))
	for _, name := range names {
		i := index(cols, name)
		if i < 0 {
			return nil, fmt.Errorf("anonymize: no column %q", name)
		}
		if done[i] {
			continue // named twice
		}
		done[i] = true
		h, err := NewHasher(key)
		if err != nil {
			return nil, err
		}
		orig := cols[i]
		var scratch []byte
		out[i] = features.Column{
			Name: orig.Name,
			Kind: features.KindString,
			String: func(r *features.Record, dst []byte) []byte {
				scratch = AppendText(scratch[:0], &orig, r)
				return h.AppendHex(dst, scratch)
			},
		}
	}
	return out, nil
}

func index(cols []features.Column, name string) int {
	for i := range cols {
		if cols[i].Name == name {
			return i
		}
	}
	return -1
}

// Sink is a Sink decorator that anonymizes columns before they reach the
// wrapped sink.
type Sink struct {
	output.Sink
	names []string
	key   []byte
}

// Wrap returns a sink that anonymizes the columns named in names with key
// and passes everything on to s. Begin fails for a name that is not a
// column.
func Wrap(s output.Sink, names []string, key []byte) *Sink {
	return &Sink{Sink: s, names: names, key: key}
}

// Begin swaps the anonymized columns' accessors and begins the wrapped
// sink.
func (a *Sink) Begin(cols []features.Column) error {
	cols, err := Columns(cols, a.names, a.key)
	if err != nil {
		return err
	}
	return a.Sink.Begin(cols)
}
