package hub

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxErrorMessage bounds the hub's message kept in an *Error, and
// maxErrorName its error code's name.
const (
	maxErrorMessage = 1024
	maxErrorName    = 100
)

// parseError reads an error answer into an *Error. It understands the
// four bodies IoT Hub sends (reference §3.1): the message as a JSON string
// holding an object (A), "ErrorCode:<name or number>;<text>" (B), the
// message as an object (C), and a flat object (D). The code comes from the
// body, else from the iothub-errorcode header; its name and number
// complete each other from the table of known codes. Without either, the
// HTTP status is all there is.
func parseError(status int, header http.Header, body []byte) *Error {
	e := &Error{StatusCode: status}
	var codeText string
	var top map[string]json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &top) == nil {
		msg, hasMsg := top["Message"]
		if _, flat := member(top, "errorCode"); !hasMsg && !flat {
			msg, hasMsg = member(top, "Message")
		}
		switch {
		case hasMsg && isJSONObject(msg): // C
			codeText, e.Message, e.TrackingID = flatError(msg)
		case hasMsg:
			var s string
			if json.Unmarshal(msg, &s) != nil {
				e.Message = string(msg)
				break
			}
			if inner := []byte(strings.TrimSpace(s)); isJSONObject(inner) { // A
				codeText, e.Message, e.TrackingID = flatError(inner)
				break
			}
			codeText, e.Message, e.TrackingID = classicError(s) // B
		default: // D
			codeText, e.Message, e.TrackingID = flatError(trimmed)
		}
		if exc, ok := member(top, "ExceptionMessage"); ok && e.TrackingID == "" {
			var s string
			if json.Unmarshal(exc, &s) == nil {
				e.TrackingID = trackingIDIn(s)
			}
		}
	} else if len(trimmed) > 0 {
		e.Message = string(trimmed)
	}
	e.Code, e.Name = resolveCode(codeText, header.Get("iothub-errorcode"), status)
	e.Message = cleanMessage(e.Message)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	e.TrackingID = cleanMessage(e.TrackingID)
	e.Name = cutText(cleanMessage(e.Name), maxErrorName)
	return e
}

// member looks a member up without regard to case, as the service's
// serialiser does not promise one.
func member(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// flatError reads {"errorCode":…,"trackingId":…,"message":…}.
func flatError(b []byte) (code, message, tracking string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return "", "", ""
	}
	if v, ok := member(m, "errorCode"); ok {
		code, _ = errorCodeText(v)
	}
	if v, ok := member(m, "message"); ok {
		_ = json.Unmarshal(v, &message)
	}
	if v, ok := member(m, "trackingId"); ok {
		_ = json.Unmarshal(v, &tracking)
	}
	return code, message, tracking
}

// classicError reads "ErrorCode:<code>;<text>", where the text may go on
// with "\r\nTracking Id:…" lines (the 2016 form).
func classicError(s string) (code, message, tracking string) {
	parts := strings.Split(s, ";")
	rest := s
	for i, p := range parts {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "ErrorCode:"); ok {
			code = strings.TrimSpace(v)
			rest = strings.Join(append(append([]string(nil), parts[:i]...), parts[i+1:]...), ";")
			break
		}
	}
	tracking = trackingIDIn(rest)
	if i := strings.IndexAny(rest, "\r\n"); i >= 0 {
		rest = rest[:i]
	}
	return code, strings.TrimSpace(rest), tracking
}

var trackingRE = regexp.MustCompile(`(?i)tracking id\s*:\s*([^\r\n]*)`)

func trackingIDIn(s string) string {
	if m := trackingRE.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

// resolveCode turns the body's code (a name or a number, "" if none) and
// the header's name into a number and a name.
func resolveCode(body, headerName string, status int) (int, string) {
	body = strings.TrimSpace(body)
	if body != "" {
		digits := body
		if len(digits) > 6 && isDigits(digits[:6]) {
			digits = digits[:6]
		}
		if n, err := strconv.Atoi(digits); err == nil {
			if c, ok := LookupErrorNumber(n); ok {
				return c.Number, c.Name
			}
			return n, strings.TrimSpace(headerName)
		}
		if c, ok := LookupErrorName(body); ok {
			return c.Number, c.Name
		}
		return 0, body
	}
	if headerName = strings.TrimSpace(headerName); headerName != "" {
		if c, ok := LookupErrorName(headerName); ok {
			return c.Number, c.Name
		}
		return 0, headerName
	}
	return 0, ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

var secretRE = regexp.MustCompile(`(?i)(sig=|SharedAccessKey=|SharedAccessSignature\s+)[^&;\s"]+`)

// cleanMessage makes the hub's text safe to show: printable, short, and
// without anything that looks like a signature or a key, should a proxy
// ever echo one.
func cleanMessage(s string) string {
	s = secretRE.ReplaceAllString(s, "${1}(redacted)")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "�")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return cutText(strings.TrimSpace(s), maxErrorMessage)
}

// cutText cuts s to at most n bytes, between runes, marking the cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
