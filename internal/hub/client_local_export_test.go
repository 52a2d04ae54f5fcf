package hub

import "time"

// SetEventIdleLimit shortens how long MonitorEvents waits for a line, until
// the returned function puts it back.
func SetEventIdleLimit(d time.Duration) (restore func()) {
	old := eventIdleLimit
	eventIdleLimit = d
	return func() { eventIdleLimit = old }
}
