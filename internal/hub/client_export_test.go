package hub

import (
	"context"
	"time"
)

// Hooks for the client's external tests.

// SetSleep replaces the wait between a client's attempts.
func SetSleep(c *Client, sleep func(ctx context.Context, d time.Duration) error) { c.sleep = sleep }

// ParseError is parseError.
var ParseError = parseError
