package meter

import (
	"fmt"

	"github.com/nfstream-go/nfstream/internal/features"
)

// The limits of a Config, which the command line's flags share: NFStream
// takes timeouts in seconds and keeps them in milliseconds in a uint64,
// n_dissections in a uint8 and splt_analysis in a uint16.
const (
	// MaxTimeoutSeconds is the largest idle or active timeout, in
	// seconds, whose value in milliseconds fits a uint64.
	MaxTimeoutSeconds = (1<<64 - 1) / 1000
	// MaxTimeout is MaxTimeoutSeconds in milliseconds, the unit of
	// Config's timeouts.
	MaxTimeout = MaxTimeoutSeconds * 1000
	// MaxDissections bounds Config.Dissections.
	MaxDissections = 255
	// MaxSPLT bounds Config.Features.SPLT.
	MaxSPLT = 65535
)

// Validate names the first field with a value New cannot use. Zero values
// are valid.
func (c *Config) Validate() error {
	switch {
	case c.IdleTimeout > MaxTimeout:
		return fmt.Errorf("meter: IdleTimeout %d ms: must be at most %d ms", c.IdleTimeout, uint64(MaxTimeout))
	case c.ActiveTimeout > MaxTimeout:
		return fmt.Errorf("meter: ActiveTimeout %d ms: must be at most %d ms", c.ActiveTimeout, uint64(MaxTimeout))
	case c.Dissections < 0 || c.Dissections > MaxDissections:
		return fmt.Errorf("meter: Dissections %d: must be from 0 to %d", c.Dissections, MaxDissections)
	case c.Features.SPLT < 0 || c.Features.SPLT > MaxSPLT:
		return fmt.Errorf("meter: Features.SPLT %d: must be from 0 to %d", c.Features.SPLT, MaxSPLT)
	case c.Features.Accounting > features.AccountPayload:
		return fmt.Errorf("meter: Features.Accounting %d: must be from %d (link) to %d (payload)",
			c.Features.Accounting, features.AccountLink, features.AccountPayload)
	case c.MaxActive < 0:
		return fmt.Errorf("meter: MaxActive %d: must be 0 (no bound) or more", c.MaxActive)
	}
	return nil
}
