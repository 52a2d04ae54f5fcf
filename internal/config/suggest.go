package config

import (
	"fmt"
	"sort"

	"github.com/agext/levenshtein"
)

// suggestion returns the candidate closest to name, if one is close enough
// to be a likely misspelling (fewer than three edits), else "".
func suggestion(name string, candidates []string) string {
	best, bestDist := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if d := levenshtein.Distance(name, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean returns " Did you mean "x"?" for the closest candidate, or ""
// when none is close.
func didYouMean(name string, candidates []string) string {
	if s := suggestion(name, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}
