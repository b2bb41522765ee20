//go:build !cgo

package dpi

import (
	"errors"
	"strings"
	"testing"
)

func TestWithoutCgo(t *testing.T) {
	e, err := New()
	if !errors.Is(err, ErrUnavailable) || e != nil {
		t.Fatalf("New() = %v, %v; want nil and an error wrapping ErrUnavailable", e, err)
	}
	if !strings.Contains(err.Error(), "built without cgo") {
		t.Errorf("error %q does not say why", err)
	}
	if v := Version(); v != "" {
		t.Errorf("Version() = %q, want \"\"", v)
	}
	// The stand-in methods are inert, also on a nil Engine.
	f := e.NewFlow()
	if f.Valid() {
		t.Error("NewFlow returned a valid Flow")
	}
	if p := e.Process(f, []byte{0x45}, 1); p != (Protocol{}) || !p.AppUnknown() {
		t.Errorf("Process = %+v", p)
	}
	if e.ExtraDissectionPossible(f) {
		t.Error("ExtraDissectionPossible = true")
	}
	if p, g := e.GiveUp(f); p != (Protocol{}) || g {
		t.Errorf("GiveUp = %+v, %v", p, g)
	}
	if i := e.Collect(f, Protocol{}); i != (Info{}) {
		t.Errorf("Collect = %+v", i)
	}
	e.FreeFlow(&f)
	e.FreeFlow(nil)
	e.Close()
}
