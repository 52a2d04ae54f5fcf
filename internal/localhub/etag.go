package localhub

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
)

// identityETag is the etag of a device or module identity: the decimal text
// of its write counter in base64, as IoT Hub's look ("MA==" is 0, "MQ==" 1).
func identityETag(seq uint64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatUint(seq, 10)))
}

// twinETag is the etag of a twin: its counter as an 8-byte big-endian
// integer in base64, as IoT Hub's look ("AAAAAAAAAAE=" is 1).
func twinETag(seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return base64.StdEncoding.EncodeToString(b[:])
}

// etagMatches reports whether an If-Match value allows a write to an object
// whose etag is current. The value may be quoted, as the SDKs send it, or
// bare, and may carry a weak "W/" prefix. "*" matches any etag, and so does
// "", which callers of the Hub interface pass when they want no condition.
func etagMatches(ifMatch, current string) bool {
	v := strings.TrimSpace(ifMatch)
	v = strings.TrimPrefix(v, "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v == "" || v == "*" || v == current
}
