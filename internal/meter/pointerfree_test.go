package meter

import (
	"reflect"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

// TestSlotMemoryPointerFree: flow slots and their SPLT entries live in
// plain byte pages (newPage) that the garbage collector does not scan, so
// a pointer stored there would not keep its target alive. Every type laid
// out in those pages must therefore hold no pointer of any kind.
func TestSlotMemoryPointerFree(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[slot](), reflect.TypeFor[features.SPLTEntry]()} {
		if path := pointerPath(typ, typ.Name()); path != "" {
			t.Errorf("%s holds a pointer at %s: slot pages are not scanned by the GC", typ, path)
		}
	}
	// The check itself finds pointers.
	type withPtr struct {
		a int
		b [2]struct{ s []byte }
	}
	if pointerPath(reflect.TypeFor[withPtr](), "withPtr") != "withPtr.b[].s" {
		t.Error("pointerPath misses a slice in an array of structs")
	}
}

// pointerPath returns where typ holds a pointer (a field path), or "".
func pointerPath(typ reflect.Type, path string) string {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p := pointerPath(f.Type, path+"."+f.Name); p != "" {
				return p
			}
		}
		return ""
	case reflect.Array:
		return pointerPath(typ.Elem(), path+"[]")
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	}
	// Pointers, slices, maps, strings, interfaces, channels, functions,
	// unsafe pointers and uintptr (an address the GC would not follow).
	return path
}
