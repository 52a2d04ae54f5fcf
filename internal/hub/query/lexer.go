package query

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxLength is the longest query, in characters, that IoT Hub accepts. The
// limit applies to the whole query text, SELECT to the end.
const MaxLength = 8192

type tokenKind uint8

const (
	tEOF    tokenKind = iota
	tIdent            // a name or a keyword
	tQuoted           // a [[quoted]] name
	tNumber
	tString
	tStar
	tComma
	tDot
	tLParen
	tRParen
	tLBrack
	tRBrack
	tEq
	tNe // != or <>
	tLt
	tLe
	tGt
	tGe
	tPlus
	tMinus
	tSlash
	tPercent
)

// token is one lexical element of a query.
type token struct {
	kind tokenKind
	off  int     // byte offset of the token's first character
	text string  // the token as written
	str  string  // the decoded text of a string or of a [[quoted]] name
	num  float64 // the value of a number
}

// keyword returns the upper-case keyword t is, or "" when t is not one.
func (t token) keyword() string {
	if t.kind != tIdent {
		return ""
	}
	return keyword(t.text)
}

// is reports whether t is the keyword kw (upper case).
func (t token) is(kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

// reserved lists the words that cannot name a property without [[ ]].
// ORDER, COUNT and the function names are not reserved: "tags.order" and
// "tags.count" are ordinary paths.
var reserved = []string{
	"AND", "AS", "BY", "FALSE", "FROM", "GROUP", "IN", "NIN", "NOT", "NULL",
	"OR", "SELECT", "TOP", "TRUE", "UNDEFINED", "WHERE",
}

// keyword returns the upper-case reserved word s spells in any case, or "".
func keyword(s string) string {
	if len(s) < 2 || len(s) > 9 {
		return ""
	}
	for _, kw := range reserved {
		if strings.EqualFold(s, kw) {
			return kw
		}
	}
	return ""
}

func isIdentStart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isIdent reports whether s can be written as a bare name: it lexes as one
// identifier and is not a reserved word.
func isIdent(s string) bool {
	if s == "" || keyword(s) != "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !isIdentStart(r) || !isIdentPart(r) {
			return false
		}
	}
	return true
}

// bailout carries a syntax error up the parser's stack to Parse, which turns
// its byte offset into a column.
type bailout struct {
	off int
	msg string
}

func fail(off int, format string, args ...any) {
	panic(bailout{off, fmt.Sprintf(format, args...)})
}

// lexer splits a query into tokens, one at a time, so that the first error
// reported is the first in reading order.
type lexer struct {
	src string
	off int
}

func (l *lexer) next() token {
	for l.off < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		if !unicode.IsSpace(r) {
			break
		}
		l.off += size
	}
	start := l.off
	if start >= len(l.src) {
		return token{kind: tEOF, off: start}
	}
	c := l.src[start]
	simple := func(k tokenKind, n int) token {
		l.off += n
		return token{kind: k, off: start, text: l.src[start:l.off]}
	}
	switch c {
	case '*':
		return simple(tStar, 1)
	case ',':
		return simple(tComma, 1)
	case '.':
		return simple(tDot, 1)
	case '(':
		return simple(tLParen, 1)
	case ')':
		return simple(tRParen, 1)
	case ']':
		return simple(tRBrack, 1)
	case '=':
		return simple(tEq, 1)
	case '+':
		return simple(tPlus, 1)
	case '-':
		return simple(tMinus, 1)
	case '/':
		return simple(tSlash, 1)
	case '%':
		return simple(tPercent, 1)
	case '!':
		if l.peekByte(1) == '=' {
			return simple(tNe, 2)
		}
		fail(start, `unexpected "!"; write != for "not equal" or NOT for negation`)
	case '<':
		switch l.peekByte(1) {
		case '=':
			return simple(tLe, 2)
		case '>':
			return simple(tNe, 2)
		}
		return simple(tLt, 1)
	case '>':
		if l.peekByte(1) == '=' {
			return simple(tGe, 2)
		}
		return simple(tGt, 1)
	case '[':
		if l.peekByte(1) == '[' {
			return l.quotedName()
		}
		return simple(tLBrack, 1)
	case '\'', '"':
		return l.string()
	}
	if c >= '0' && c <= '9' {
		return l.number()
	}
	r, size := utf8.DecodeRuneInString(l.src[start:])
	if isIdentStart(r) {
		l.off += size
		for l.off < len(l.src) {
			r, size := utf8.DecodeRuneInString(l.src[l.off:])
			if !isIdentPart(r) {
				break
			}
			l.off += size
		}
		return token{kind: tIdent, off: start, text: l.src[start:l.off]}
	}
	fail(start, "unexpected character %q", r)
	panic("unreachable")
}

func (l *lexer) peekByte(n int) byte {
	if l.off+n < len(l.src) {
		return l.src[l.off+n]
	}
	return 0
}

// quotedName reads [[name]]: everything up to the first "]]".
func (l *lexer) quotedName() token {
	start := l.off
	end := strings.Index(l.src[start+2:], "]]")
	if end < 0 {
		fail(start, "unterminated [[ name: no closing ]]")
	}
	if end == 0 {
		fail(start, "empty [[]] name")
	}
	l.off = start + 2 + end + 2
	return token{kind: tQuoted, off: start, text: l.src[start:l.off], str: l.src[start+2 : start+2+end]}
}

// number reads a decimal (12, 1.5, 2e-3) or hexadecimal (0x1F) literal.
func (l *lexer) number() token {
	start := l.off
	s := l.src
	digits := func(isDigit func(byte) bool) int {
		n := 0
		for l.off < len(s) && isDigit(s[l.off]) {
			l.off++
			n++
		}
		return n
	}
	var v float64
	if s[start] == '0' && (l.peekByte(1) == 'x' || l.peekByte(1) == 'X') {
		l.off += 2
		if digits(isHexDigit) == 0 {
			fail(start, "malformed number %q: 0x needs hexadecimal digits", s[start:l.off])
		}
		l.checkNumberEnd(start)
		u, err := strconv.ParseUint(s[start+2:l.off], 16, 64)
		if err != nil {
			fail(start, "number %s is out of range", s[start:l.off])
		}
		v = float64(u)
	} else {
		digits(isDecimalDigit)
		if l.off < len(s) && s[l.off] == '.' {
			l.off++
			if digits(isDecimalDigit) == 0 {
				fail(start, "malformed number %q: a decimal point needs digits after it", s[start:l.off])
			}
		}
		if l.off < len(s) && (s[l.off] == 'e' || s[l.off] == 'E') {
			l.off++
			if l.off < len(s) && (s[l.off] == '+' || s[l.off] == '-') {
				l.off++
			}
			if digits(isDecimalDigit) == 0 {
				fail(start, "malformed number %q: an exponent needs digits", s[start:l.off])
			}
		}
		l.checkNumberEnd(start)
		f, err := strconv.ParseFloat(s[start:l.off], 64)
		if err != nil {
			fail(start, "number %s is out of range", s[start:l.off])
		}
		v = f
	}
	return token{kind: tNumber, off: start, text: s[start:l.off], num: v}
}

// checkNumberEnd rejects a number run into a name, as in 12abc or 0x1G.
func (l *lexer) checkNumberEnd(start int) {
	if l.off >= len(l.src) {
		return
	}
	if r, _ := utf8.DecodeRuneInString(l.src[l.off:]); isIdentPart(r) || r == '.' {
		end := l.off
		for end < len(l.src) {
			r, size := utf8.DecodeRuneInString(l.src[end:])
			if !isIdentPart(r) && r != '.' {
				break
			}
			end += size
		}
		fail(start, "malformed number %q", l.src[start:end])
	}
}

func isDecimalDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// string reads a string in single or double quotes. Escapes are \' \" \\ \/
// \b \f \n \r \t and \uXXXX (a UTF-16 surrogate pair makes one character),
// and a doubled quote stands for itself ('operator”s').
func (l *lexer) string() token {
	start := l.off
	s := l.src
	q := s[start]
	l.off++
	var b strings.Builder
	from := l.off // start of the run not yet copied to b
	for {
		if l.off >= len(s) {
			fail(start, "unterminated string")
		}
		c := s[l.off]
		switch {
		case c == q && l.peekByte(1) == q:
			b.WriteString(s[from : l.off+1])
			l.off += 2
			from = l.off
		case c == q:
			b.WriteString(s[from:l.off])
			l.off++
			return token{kind: tString, off: start, text: s[start:l.off], str: b.String()}
		case c == '\\':
			b.WriteString(s[from:l.off])
			l.escape(&b)
			from = l.off
		default:
			l.off++
		}
	}
}

// escape decodes the escape sequence at l.off into b.
func (l *lexer) escape(b *strings.Builder) {
	s := l.src
	at := l.off
	if at+1 >= len(s) {
		fail(at, "unterminated string")
	}
	c := s[at+1]
	l.off += 2
	switch c {
	case '\'', '"', '\\', '/':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r := l.hex4(at)
		if utf16.IsSurrogate(r) && strings.HasPrefix(s[l.off:], `\u`) {
			save := l.off
			l.off += 2
			if pair := utf16.DecodeRune(r, l.hex4(save)); pair != utf8.RuneError {
				r = pair
			} else {
				l.off = save
			}
		}
		b.WriteRune(r) // a lone surrogate becomes U+FFFD
	default:
		r, _ := utf8.DecodeRuneInString(s[at+1:])
		fail(at, `unknown escape sequence "\%c" in a string`, r)
	}
}

// hex4 reads the four hexadecimal digits of a \u escape that starts at at.
func (l *lexer) hex4(at int) rune {
	if l.off+4 > len(l.src) {
		fail(at, `\u needs four hexadecimal digits`)
	}
	var r rune
	for i := range 4 {
		c := l.src[l.off+i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			fail(at, `\u needs four hexadecimal digits`)
		}
		r = r<<4 | rune(d)
	}
	l.off += 4
	return r
}
