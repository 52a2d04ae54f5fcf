package query

import (
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every failure is a
// *SyntaxError with a column inside the query, and that a parsed query's
// String parses again to the same String. Parsed queries are also
// evaluated, to check that evaluation never panics either. Seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	fl := loadFleet(f)
	docs := []map[string]any{fl.Devices[0], fl.Devices[14], fl.Modules[4], fl.Jobs[5], evalDoc, nil}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is a %T, want *SyntaxError", s, err, err)
			}
			if se.Column < 1 || se.Column > utf8.RuneCountInString(s)+1 {
				t.Fatalf("Parse(%q) error column %d is outside the query", s, se.Column)
			}
			return
		}
		s1 := q.String()
		q2, err := Parse(s1)
		if err != nil {
			var se *SyntaxError
			if utf8.RuneCountInString(s1) > MaxLength && errors.As(err, &se) && se.Column == MaxLength+1 {
				return // normal form is longer than the query and over the limit
			}
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, s1, err)
		}
		if s2 := q2.String(); s2 != s1 {
			t.Fatalf("Parse(%q) = %q, which parses to %q", s, s1, s2)
		}
		for _, d := range docs {
			q.Match(d)
		}
		if _, err := q.Run(slices.Values(docs)); err != nil {
			t.Logf("Run: %v", err)
		}
		q.DeviceIDs()
		q.TagEquals()
	})
}
