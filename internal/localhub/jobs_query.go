package localhub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/query"
)

// The kinds of page tokens of jobs: a listing of jobs (after a job ID), and
// a devices.jobs query read from bucketDeviceJobs or, when the query names
// its devices, from bucketDeviceJobsByDevice. Their letters differ from the
// twin queries' tokens, so no token is taken for another query's.
const (
	tokenJobList     = 'l'
	tokenDeviceJobs  = 'j'
	tokenJobsByIndex = 'x'
)

// jobsToken is where the next page of a job listing or devices.jobs query
// starts: after a key, with a count of items already returned.
type jobsToken struct {
	after    []byte
	returned int
}

// encodeJobsToken makes a page token in the format of the twin queries'
// tokens: the kind's letter, the count returned so far (4 bytes,
// big-endian) and the key, in unpadded URL-safe base64.
func encodeJobsToken(kind byte, t jobsToken) string {
	b := append([]byte{kind}, binary.BigEndian.AppendUint32(nil, uint32(t.returned))...)
	return continuationEncoding.EncodeToString(append(b, t.after...))
}

// decodeJobsToken reads a token encodeJobsToken made for the same kind;
// the empty token is the first page. Keys must be made of valid IDs.
func decodeJobsToken(kind byte, token string) (jobsToken, error) {
	var t jobsToken
	if token == "" {
		return t, nil
	}
	bad := errors.New("the token is not one this hub issued")
	b, err := continuationEncoding.DecodeString(token)
	if err != nil || continuationEncoding.EncodeToString(b) != token || len(b) < 6 {
		return t, bad
	}
	if b[0] != kind {
		return t, errors.New("the token belongs to another query")
	}
	t.returned = int(binary.BigEndian.Uint32(b[1:5]))
	key := b[5:]
	var jobID, deviceID, moduleID string
	switch kind {
	case tokenJobList:
		jobID = string(key)
	case tokenDeviceJobs, tokenJobsByIndex:
		a, b, c, ok := splitKey(key)
		if !ok {
			return t, bad
		}
		jobID, deviceID, moduleID = a, b, c
		if kind == tokenJobsByIndex {
			jobID, deviceID = b, a
		}
		if hub.ValidateID(deviceID) != nil || moduleID != "" && hub.ValidateID(moduleID) != nil {
			return t, bad
		}
	default:
		return t, bad
	}
	if hub.ValidateJobID(jobID) != nil {
		return t, bad
	}
	t.after = key
	return t, nil
}

// queryJobs answers a query of devices.jobs: SELECT * (the only form the
// query language allows there) over the per-device records of jobs, in
// the order of job ID, device ID and module ID; or, when the condition
// names device IDs, of device ID, job ID and module ID, reading only those
// devices' records.
func (h *Hub) queryJobs(ctx context.Context, q *query.Query, opts hub.QueryOptions) (*hub.QueryPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, byID := q.DeviceIDs()
	kind := byte(tokenDeviceJobs)
	if byID {
		kind = tokenJobsByIndex
	}
	tok, err := decodeJobsToken(kind, opts.Continuation)
	if err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "invalid continuation token: %v", err)
	}
	size := pageSize(opts.PageSize)
	if top, ok := q.Top(); ok {
		size = min(size, top-tok.returned)
	}
	page := &hub.QueryPage{ItemType: query.ItemDeviceJob, Items: []json.RawMessage{}}
	if size <= 0 {
		return page, nil
	}
	err = h.view("query jobs", func(tx *bolt.Tx) error {
		s := readJobStore(tx)
		if s.devices == nil {
			return nil
		}
		next := deviceJobCursor(s, tok.after, ids, byID)
		var last []byte
		for k, v := next(); k != nil; k, v = next() {
			if len(page.Items) == size {
				page.Continuation = encodeJobsToken(kind, jobsToken{after: last, returned: tok.returned + len(page.Items)})
				return nil
			}
			last = k
			r, err := decodeDeviceJob(v)
			if err != nil {
				return err
			}
			b, err := json.Marshal(r.wire())
			if err != nil {
				return fmt.Errorf("encode device job: %w", err)
			}
			if q.HasWhere() {
				var doc map[string]any
				if err := json.Unmarshal(b, &doc); err != nil {
					return fmt.Errorf("decode device job: %w", err)
				}
				if !q.Match(doc) {
					continue
				}
			}
			page.Items = append(page.Items, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if top, ok := q.Top(); ok && tok.returned+len(page.Items) >= top {
		page.Continuation = ""
	}
	return page, nil
}

// deviceJobCursor returns an iterator over the device job records after
// key after: all of them, or only those of the devices named. The keys it
// returns are those of the bucket it walks (after is one of them); the
// values are always the records.
func deviceJobCursor(s jobStore, after []byte, ids []string, byID bool) func() ([]byte, []byte) {
	if !byID {
		c := s.devices.Cursor()
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
	if s.index == nil {
		return func() ([]byte, []byte) { return nil, nil }
	}
	c := s.index.Cursor()
	i := 0
	var prefix []byte
	return func() ([]byte, []byte) {
		for {
			var k []byte
			if prefix == nil {
				if i >= len(ids) {
					return nil, nil
				}
				prefix = []byte(ids[i] + "\x00")
				i++
				k, _ = c.Seek(prefix)
				if after != nil && bytes.Compare(k, after) <= 0 && k != nil {
					k, _ = c.Seek(after)
					if k != nil && bytes.Equal(k, after) {
						k, _ = c.Next()
					}
				}
			} else {
				k, _ = c.Next()
			}
			if k == nil || !bytes.HasPrefix(k, prefix) {
				prefix = nil
				continue
			}
			deviceID, jobID, moduleID, ok := splitKey(k)
			if !ok {
				continue
			}
			v := s.devices.Get(deviceJobKey(jobID, target{deviceID, moduleID}))
			if v == nil {
				continue
			}
			return k, v
		}
	}
}
