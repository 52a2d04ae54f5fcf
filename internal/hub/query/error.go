package query

import "fmt"

// SyntaxError is a query the language does not accept: a lexical or
// grammatical mistake, or a construct IoT Hub rejects (ORDER BY, a
// projection on devices.jobs, an unknown function, ...).
type SyntaxError struct {
	// Column is the 1-based position, in characters from the start of the
	// query, of the first character at fault. Newlines count as one
	// character like any other.
	Column  int
	Message string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: column %d: %s", e.Column, e.Message)
}
