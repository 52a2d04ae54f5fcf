package localhub

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// QueryTwins runs SELECT * FROM devices or SELECT * FROM devices.modules
// (keywords in any case, any whitespace) and returns one page of twins,
// sorted by device ID and then module ID. Other queries are a 400
// ArgumentInvalid answer.
//
// The continuation token names the last twin of the page, so a page reads
// only its own records whatever the size of the registry. Paging sees
// writes made between pages: a twin that exists from the first page to the
// last is returned exactly once, one created or deleted meanwhile may or
// may not be.
func (h *Hub) QueryTwins(ctx context.Context, query string, opts hub.QueryOptions) (*hub.TwinPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src, err := parseQuery(query)
	if err != nil {
		return nil, err
	}
	after, err := decodeContinuation(src, opts.Continuation)
	if err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "invalid continuation token for %q: %v", query, err)
	}
	size := pageSize(opts.PageSize)
	page := &hub.TwinPage{Twins: []hub.Twin{}}
	err = h.view("query twins", func(tx *bolt.Tx) error {
		b := tx.Bucket(src.bucket())
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		var last []byte
		for ; k != nil && len(page.Twins) < size; k, v = c.Next() {
			t, err := src.twin(v)
			if err != nil {
				return err
			}
			page.Twins = append(page.Twins, *t)
			last = k
		}
		if k != nil {
			page.Continuation = encodeContinuation(src, last)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// source is what a query reads: device twins or module twins.
type source byte

const (
	sourceDevices source = 'd'
	sourceModules source = 'm'
)

func (s source) bucket() []byte {
	if s == sourceModules {
		return bucketModules
	}
	return bucketDevices
}

func (s source) twin(v []byte) (*hub.Twin, error) {
	if s == sourceModules {
		r, err := decodeModule(v)
		if err != nil {
			return nil, err
		}
		return r.twin(), nil
	}
	r, err := decodeDevice(v)
	if err != nil {
		return nil, err
	}
	return r.twin(), nil
}

var selectAll = regexp.MustCompile(`(?i)^\s*select\s*\*\s*from\s+devices(\.modules)?\s*$`)

// parseQuery recognises the two queries the local hub's engine runs.
func parseQuery(q string) (source, error) {
	m := selectAll.FindStringSubmatch(q)
	if m == nil {
		return 0, hub.Errorf(hub.CodeArgumentInvalid, "the query %q is not supported: the local hub's query engine supports only SELECT * FROM devices and SELECT * FROM devices.modules", q)
	}
	if m[1] != "" {
		return sourceModules, nil
	}
	return sourceDevices, nil
}

// pageSize turns a requested page size into the one used: 0 (or less)
// means hub.DefaultQueryPageSize, more than hub.MaxQueryPageSize means the
// maximum.
func pageSize(n int) int {
	switch {
	case n <= 0:
		return hub.DefaultQueryPageSize
	case n > hub.MaxQueryPageSize:
		return hub.MaxQueryPageSize
	}
	return n
}

var continuationEncoding = base64.RawURLEncoding.Strict()

// encodeContinuation makes the token of a page that ended at key: the
// source's letter and the key, in unpadded URL-safe base64.
func encodeContinuation(s source, key []byte) string {
	return continuationEncoding.EncodeToString(append([]byte{byte(s)}, key...))
}

// decodeContinuation returns the key a token names, nil for the empty
// token. It accepts only tokens encodeContinuation could have made for the
// same source: the key must be a valid device ID, or a valid device ID and
// module ID joined by "\x00".
func decodeContinuation(s source, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	b, err := continuationEncoding.DecodeString(token)
	// The decoder skips line breaks; only the canonical form is a token.
	if err != nil || continuationEncoding.EncodeToString(b) != token {
		return nil, errors.New("the token is not one this hub issued")
	}
	if len(b) < 2 {
		return nil, errors.New("the token is not one this hub issued")
	}
	if source(b[0]) != s {
		return nil, errors.New("the token belongs to another query")
	}
	key := b[1:]
	ids := []string{string(key)}
	if s == sourceModules {
		ids = strings.Split(string(key), "\x00")
		if len(ids) != 2 {
			return nil, errors.New("the token is not one this hub issued")
		}
	}
	for _, id := range ids {
		if hub.ValidateID(id) != nil {
			return nil, errors.New("the token is not one this hub issued")
		}
	}
	return key, nil
}
