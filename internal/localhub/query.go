package localhub

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/query"
)

// Query runs a query of IoT Hub's query language (package hub/query) and
// returns one page of its results, as the service's query endpoint does.
//
// SELECT * queries stream: each page reads only as far as it needs, and
// its continuation token names where the next page goes on. Queries with
// projections or aggregates are evaluated whole, and their pages are
// slices of the result. A WHERE condition that names device IDs reads only
// those devices.
func (h *Hub) Query(ctx context.Context, q string, opts hub.QueryOptions) (*hub.QueryPage, error) {
	pq, err := parse(q)
	if err != nil {
		return nil, err
	}
	if pq.From() == query.Jobs {
		return h.queryJobs(ctx, pq, opts)
	}
	if pq.IsSelectStar() {
		twins, next, err := h.scan(ctx, pq, opts)
		if err != nil {
			return nil, err
		}
		page := &hub.QueryPage{ItemType: query.ItemTwin, Items: make([]json.RawMessage, 0, len(twins)), Continuation: next}
		for i := range twins {
			b, err := json.Marshal(&twins[i])
			if err != nil {
				return nil, fmt.Errorf("encode twin: %w", err)
			}
			page.Items = append(page.Items, b)
		}
		return page, nil
	}
	return h.evaluate(ctx, pq, opts)
}

// QueryTwins runs a SELECT * query over device or module twins and returns
// one page of twins, sorted by device ID and then module ID. Paging sees
// writes made between pages: a twin that exists from the first page to the
// last is returned exactly once, one created or deleted meanwhile may or
// may not be.
func (h *Hub) QueryTwins(ctx context.Context, q string, opts hub.QueryOptions) (*hub.TwinPage, error) {
	pq, err := parse(q)
	if err != nil {
		return nil, err
	}
	if !pq.IsSelectStar() || pq.From() == query.Jobs {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "a twin query must be SELECT * FROM devices or devices.modules: %q", q)
	}
	twins, next, err := h.scan(ctx, pq, opts)
	if err != nil {
		return nil, err
	}
	return &hub.TwinPage{Twins: twins, Continuation: next}, nil
}

func parse(q string) (*query.Query, error) {
	pq, err := query.Parse(q)
	if err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "The query is invalid. Please check the format of the query and try again. %v", err)
	}
	return pq, nil
}

// source is what a query reads: device twins or module twins.
type source byte

const (
	sourceDevices source = 'd'
	sourceModules source = 'm'
	sourceResult  source = 'r' // a page of an evaluated result
)

func sourceOf(q *query.Query) source {
	if q.From() == query.Modules {
		return sourceModules
	}
	return sourceDevices
}

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

// scan returns the next page of the twins a SELECT * query matches, and the
// token of the page after it ("" at the end).
func (h *Hub) scan(ctx context.Context, q *query.Query, opts hub.QueryOptions) ([]hub.Twin, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	src := sourceOf(q)
	tok, err := decodeContinuation(src, opts.Continuation)
	if err != nil {
		return nil, "", hub.Errorf(hub.CodeArgumentInvalid, "invalid continuation token: %v", err)
	}
	size := pageSize(opts.PageSize)
	if top, ok := q.Top(); ok {
		size = min(size, top-tok.returned)
	}
	twins := []hub.Twin{}
	next := ""
	if size <= 0 {
		return twins, "", nil
	}
	ids, byID := q.DeviceIDs()
	err = h.view("query twins", func(tx *bolt.Tx) error {
		if !byID && src == sourceDevices {
			ids, byID = tagCandidates(tx, q)
		}
		b := tx.Bucket(src.bucket())
		keys := cursorFrom(b.Cursor(), tok.after, src, ids, byID)
		var last []byte
		for k, v := keys(); k != nil; k, v = keys() {
			if len(twins) == size {
				next = encodeContinuation(src, continuation{after: last, returned: tok.returned + len(twins)})
				return nil
			}
			last = k
			t, err := src.twin(v)
			if err != nil {
				return err
			}
			if q.HasWhere() {
				doc, err := document(t)
				if err != nil {
					return err
				}
				if !q.Match(doc) {
					continue
				}
			}
			twins = append(twins, *t)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if top, ok := q.Top(); ok && tok.returned+len(twins) >= top {
		next = ""
	}
	return twins, next, nil
}

// cursorFrom returns an iterator over the records after key after: all of
// the bucket, or when the query names its devices, only theirs.
func cursorFrom(c *bolt.Cursor, after []byte, src source, ids []string, byID bool) func() ([]byte, []byte) {
	if !byID {
		started := false
		return func() ([]byte, []byte) {
			var k, v []byte
			switch {
			case started:
				k, v = c.Next()
			case after == nil:
				k, v = c.First()
			default:
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			started = true
			return k, v
		}
	}
	// Devices named by ID: seek each, in order. For modules, every module
	// of each device.
	i := 0
	var prefix []byte
	var k, v []byte
	return func() ([]byte, []byte) {
		for {
			if prefix != nil {
				k, v = c.Next()
				if k != nil && bytes.HasPrefix(k, prefix) {
					return k, v
				}
				prefix = nil
			}
			if i >= len(ids) {
				return nil, nil
			}
			id := []byte(ids[i])
			i++
			if src == sourceModules {
				prefix = moduleKeyPrefix(ids[i-1])
				k, v = c.Seek(prefix)
				for k != nil && bytes.HasPrefix(k, prefix) && after != nil && bytes.Compare(k, after) <= 0 {
					k, v = c.Next()
				}
				if k != nil && bytes.HasPrefix(k, prefix) {
					return k, v
				}
				prefix = nil
				continue
			}
			if after != nil && bytes.Compare(id, after) <= 0 {
				continue
			}
			k, v = c.Seek(id)
			if k != nil && bytes.Equal(k, id) {
				return k, v
			}
		}
	}
}

// evaluate runs a query with projections or aggregates over every twin it
// may match, and returns the page of the result the token names.
func (h *Hub) evaluate(ctx context.Context, q *query.Query, opts hub.QueryOptions) (*hub.QueryPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tok, err := decodeContinuation(sourceResult, opts.Continuation)
	if err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "invalid continuation token: %v", err)
	}
	src := sourceOf(q)
	ids, byID := q.DeviceIDs()
	var res *query.Result
	err = h.view("run query", func(tx *bolt.Tx) error {
		if !byID && src == sourceDevices {
			ids, byID = tagCandidates(tx, q)
		}
		keys := cursorFrom(tx.Bucket(src.bucket()).Cursor(), nil, src, ids, byID)
		var decodeErr error
		docs := func(yield func(map[string]any) bool) {
			for k, v := keys(); k != nil; k, v = keys() {
				t, err := src.twin(v)
				if err == nil {
					var doc map[string]any
					if doc, err = document(t); err == nil {
						if !yield(doc) {
							return
						}
						continue
					}
				}
				decodeErr = err
				return
			}
		}
		r, err := q.Run(docs)
		if decodeErr != nil {
			return decodeErr
		}
		if err != nil {
			return hub.Errorf(hub.CodeArgumentInvalid, "The query could not be evaluated: %v", err)
		}
		res = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	size := pageSize(opts.PageSize)
	start := min(tok.returned, len(res.Items))
	end := min(start+size, len(res.Items))
	page := &hub.QueryPage{ItemType: res.ItemType, Items: make([]json.RawMessage, 0, end-start)}
	for _, it := range res.Items[start:end] {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("encode query result: %w", err)
		}
		page.Items = append(page.Items, b)
	}
	if end < len(res.Items) {
		page.Continuation = encodeContinuation(sourceResult, continuation{returned: end})
	}
	return page, nil
}

// document is a twin as a query sees it: its JSON, decoded.
func document(t *hub.Twin) (map[string]any, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode twin: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode twin: %w", err)
	}
	return doc, nil
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

// continuation is where the next page of a query starts: after a record
// key, with a number of items already returned (for TOP, and the offset
// into an evaluated result).
type continuation struct {
	after    []byte
	returned int
}

// encodeContinuation makes a page token: the source's letter, the count
// returned so far (4 bytes, big-endian) and the key, in unpadded URL-safe
// base64.
func encodeContinuation(s source, c continuation) string {
	b := append([]byte{byte(s)}, binary.BigEndian.AppendUint32(nil, uint32(c.returned))...)
	return continuationEncoding.EncodeToString(append(b, c.after...))
}

// decodeContinuation reads a token encodeContinuation made for the same
// source; the empty token is the first page. Record keys must be valid
// device IDs, or a device ID and a module ID joined by "\x00".
func decodeContinuation(s source, token string) (continuation, error) {
	var c continuation
	if token == "" {
		return c, nil
	}
	b, err := continuationEncoding.DecodeString(token)
	// The decoder skips line breaks; only the canonical form is a token.
	if err != nil || continuationEncoding.EncodeToString(b) != token || len(b) < 5 {
		return c, errors.New("the token is not one this hub issued")
	}
	if source(b[0]) != s {
		return c, errors.New("the token belongs to another query")
	}
	c.returned = int(binary.BigEndian.Uint32(b[1:5]))
	key := b[5:]
	if s == sourceResult {
		if len(key) != 0 {
			return c, errors.New("the token is not one this hub issued")
		}
		return c, nil
	}
	if len(key) == 0 {
		return c, errors.New("the token is not one this hub issued")
	}
	ids := []string{string(key)}
	if s == sourceModules {
		ids = strings.Split(string(key), "\x00")
		if len(ids) != 2 {
			return c, errors.New("the token is not one this hub issued")
		}
	}
	for _, id := range ids {
		if hub.ValidateID(id) != nil {
			return c, errors.New("the token is not one this hub issued")
		}
	}
	c.after = key
	return c, nil
}

// tagCandidates returns the devices that can match a query that asks for
// tags to equal values: those the tag index lists for the most selective
// of them. ok is false when the query asks for none, or the index cannot
// answer; the query's condition is still checked on each candidate.
func tagCandidates(tx *bolt.Tx, q *query.Query) (ids []string, ok bool) {
	eq := q.TagEquals()
	paths := make([]string, 0, len(eq))
	for path := range eq {
		paths = append(paths, path)
	}
	sort.Strings(paths) // ties go the same way every time
	for _, path := range paths {
		got, indexed := devicesWithTag(tx, path, eq[path])
		if !indexed {
			continue
		}
		if !ok || len(got) < len(ids) {
			ids, ok = got, true
		}
	}
	return ids, ok
}
