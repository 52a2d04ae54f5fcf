package hub

import (
	"encoding/base64"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the hub that both the local hub enforces and the configuration
// checks before anything is sent.
const (
	MaxIDLength           = 128
	MaxStatusReasonLength = 128
	MaxModulesPerDevice   = 50
	MaxBulkDevices        = 100
	MaxQueryPageSize      = 1000
	DefaultQueryPageSize  = 100

	MaxTwinKeyBytes     = 1024
	MaxTwinStringBytes  = 4096
	MaxTwinDepth        = 10
	MaxTwinTagsBytes    = 8 * 1024
	MaxTwinDesiredBytes = 32 * 1024
	MaxTwinReportedSize = 32 * 1024

	// MaxTwinInt and MinTwinInt bound the integers a twin can hold (±2^52).
	MaxTwinInt = 4503599627370495
	MinTwinInt = -4503599627370496

	MinSymmetricKeyBytes = 16
	MaxSymmetricKeyBytes = 64
)

// IDCharacters lists the characters, beyond ASCII letters and digits, that a
// device or module ID may contain.
const IDCharacters = "-:.+%_#*?!(),=@;$'"

// ValidateID checks a device or module ID against the registry's rules:
// 1 to 128 ASCII letters, digits and the characters of IDCharacters. The
// error says which characters are at fault.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("the ID is empty")
	}
	var bad []string
	seen := map[rune]bool{}
	for _, r := range id {
		if isIDRune(r) || seen[r] {
			continue
		}
		seen[r] = true
		bad = append(bad, quoteRune(r))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%q contains %s, which IoT Hub does not allow in an ID", id, joinAnd(bad))
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%q is %d characters long; the most IoT Hub allows is %d", id, len(id), MaxIDLength)
	}
	return nil
}

// IDRule describes the ID rule in a sentence, for diagnostics.
const IDRule = "Allowed: up to 128 ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '."

func isIDRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(IDCharacters, r))
}

func quoteRune(r rune) string {
	if unicode.IsPrint(r) {
		return "'" + string(r) + "'"
	}
	return fmt.Sprintf("%U", r)
}

func joinAnd(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// ValidateStatusReason checks a status reason's length.
func ValidateStatusReason(s string) error {
	if n := utf8.RuneCountInString(s); n > MaxStatusReasonLength {
		return fmt.Errorf("the status reason is %d characters long; the most IoT Hub allows is %d", n, MaxStatusReasonLength)
	}
	return nil
}

// ValidateSymmetricKey checks that a SAS key is base64 of 16 to 64 bytes.
// The error never contains the key.
func ValidateSymmetricKey(key string) error {
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("the key is not valid base64")
	}
	if len(b) < MinSymmetricKeyBytes || len(b) > MaxSymmetricKeyBytes {
		return fmt.Errorf("the key decodes to %d bytes; IoT Hub accepts %d to %d", len(b), MinSymmetricKeyBytes, MaxSymmetricKeyBytes)
	}
	return nil
}

// ValueError is a twin value that breaks one of the hub's rules. Path is the
// key path inside the section, empty when the section as a whole is at fault.
type ValueError struct {
	Path   []string
	Reason string
}

func (e *ValueError) Error() string {
	if len(e.Path) == 0 {
		return e.Reason
	}
	return strings.Join(e.Path, ".") + ": " + e.Reason
}

// Twin sections, for ValidateTwinSection.
const (
	SectionTags     = "tags"
	SectionDesired  = "desired"
	SectionReported = "reported"
)

// ValidateTwinSection checks the properties of a twin section (tags, desired
// or reported, without "$" members) against the hub's rules: key names,
// depth, string length, integer range and the section's size. When patch is
// true, nil values are allowed (they remove keys). It returns every problem
// found, in key order.
func ValidateTwinSection(section string, props map[string]any, patch bool) []*ValueError {
	var errs []*ValueError
	checkTwinObject(props, nil, 1, patch, &errs)
	if len(errs) > 0 {
		return errs
	}
	limit := MaxTwinDesiredBytes
	if section == SectionTags {
		limit = MaxTwinTagsBytes
	}
	if size := TwinSize(props); size > limit {
		errs = append(errs, &ValueError{Reason: fmt.Sprintf("%s take %d bytes; the most IoT Hub allows is %d", section, size, limit)})
	}
	return errs
}

func checkTwinObject(m map[string]any, path []string, depth int, patch bool, errs *[]*ValueError) {
	keys := sortedKeys(m)
	for _, k := range keys {
		p := append(append([]string(nil), path...), k)
		if reason := twinKeyProblem(k); reason != "" {
			*errs = append(*errs, &ValueError{Path: p, Reason: reason})
			continue
		}
		checkTwinValue(m[k], p, depth, patch, errs)
	}
}

func checkTwinValue(v any, path []string, depth int, patch bool, errs *[]*ValueError) {
	switch v := v.(type) {
	case nil:
		if !patch {
			*errs = append(*errs, &ValueError{Path: path, Reason: "null cannot be stored in a twin (null removes a key)"})
		}
	case bool:
	case string:
		if len(v) > MaxTwinStringBytes {
			*errs = append(*errs, &ValueError{Path: path, Reason: fmt.Sprintf("the string is %d bytes long; the most IoT Hub allows is %d", len(v), MaxTwinStringBytes)})
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			*errs = append(*errs, &ValueError{Path: path, Reason: "the number is not finite"})
		} else if v == math.Trunc(v) && (v > MaxTwinInt || v < MinTwinInt) {
			*errs = append(*errs, &ValueError{Path: path, Reason: fmt.Sprintf("the integer %.0f is outside the range IoT Hub stores (%d to %d)", v, int64(MinTwinInt), int64(MaxTwinInt))})
		}
	case map[string]any:
		if depth > MaxTwinDepth {
			*errs = append(*errs, &ValueError{Path: path, Reason: fmt.Sprintf("objects are nested more than %d levels deep", MaxTwinDepth)})
			return
		}
		checkTwinObject(v, path, depth+1, patch, errs)
	case []any:
		for i, e := range v {
			if e == nil {
				continue
			}
			checkTwinValue(e, append(append([]string(nil), path...), fmt.Sprintf("[%d]", i)), depth, false, errs)
		}
	default:
		*errs = append(*errs, &ValueError{Path: path, Reason: fmt.Sprintf("a value of Go type %T cannot be stored in a twin", v)})
	}
}

func twinKeyProblem(k string) string {
	switch {
	case k == "":
		return "a key is empty"
	case len(k) > MaxTwinKeyBytes:
		return fmt.Sprintf("the key is %d bytes long; the most IoT Hub allows is %d", len(k), MaxTwinKeyBytes)
	case !utf8.ValidString(k):
		return "the key is not valid UTF-8"
	}
	for _, r := range k {
		switch {
		case r == '.':
			return "a key may not contain '.'"
		case r == '$':
			return "a key may not contain '$' (reserved for $metadata and $version)"
		case r == ' ':
			return "a key may not contain a space"
		case unicode.IsControl(r):
			return fmt.Sprintf("a key may not contain the control character %U", r)
		}
	}
	return ""
}

// TwinSize is the size of a twin section as IoT Hub counts it: the sum over
// all properties of the key's length plus the value's size, where strings
// count their UTF-8 length without control characters, numbers 8 bytes,
// booleans 4 bytes, and objects the sum of their members.
func TwinSize(m map[string]any) int {
	n := 0
	for k, v := range m {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		n := 0
		for _, r := range v {
			if !unicode.IsControl(r) {
				n += utf8.RuneLen(r)
			}
		}
		return n
	case float64:
		return 8
	case bool:
		return 4
	case map[string]any:
		return TwinSize(v)
	case []any:
		n := 0
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	}
	return 0
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
