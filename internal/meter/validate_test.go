package meter

import (
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

func TestConfigValidate(t *testing.T) {
	good := []Config{
		{},
		{IdleTimeout: MaxTimeout, ActiveTimeout: MaxTimeout, Dissections: MaxDissections, MaxActive: 1,
			Features: features.Config{SPLT: MaxSPLT, Accounting: features.AccountPayload}},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, tc := range []struct {
		field string
		cfg   Config
	}{
		{"IdleTimeout", Config{IdleTimeout: MaxTimeout + 1}},
		{"ActiveTimeout", Config{ActiveTimeout: 1<<64 - 1}},
		{"Dissections", Config{Dissections: MaxDissections + 1}},
		{"Dissections", Config{Dissections: -1}},
		{"Features.SPLT", Config{Features: features.Config{SPLT: MaxSPLT + 1}}},
		{"Features.SPLT", Config{Features: features.Config{SPLT: -1}}},
		{"Features.Accounting", Config{Features: features.Config{Accounting: features.AccountPayload + 1}}},
		{"MaxActive", Config{MaxActive: -1}},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "meter: "+tc.field+" ") {
			t.Errorf("%+v: error %v, want one naming %s", tc.cfg, err, tc.field)
		}
		if _, err := New(tc.cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted a bad %s", tc.cfg, tc.field)
		}
	}
}
