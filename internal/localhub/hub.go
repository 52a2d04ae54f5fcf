package localhub

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/iotplan/iotplan/internal/hub"
)

// Errors of the store itself, as opposed to the *hub.Error values a hub
// answers with.
var (
	// ErrInUse means another process holds the hub database; Open gave up
	// after Options.Timeout.
	ErrInUse = errors.New("in use by another iotplan process")
	// ErrReadOnly means a write was attempted on a hub opened read-only.
	ErrReadOnly = errors.New("read-only")
)

// DefaultTimeout is how long Open waits for another process to release the
// hub database when Options.Timeout is zero.
const DefaultTimeout = time.Second

// Options controls how a hub database is opened.
type Options struct {
	// ReadOnly opens the database with a shared lock: several read-only
	// hubs may be open at once, and every write fails with ErrReadOnly.
	ReadOnly bool
	// Now is the hub's clock; nil means time.Now. Times are kept in UTC at
	// 100 ns precision, as IoT Hub reports them.
	Now func() time.Time
	// Timeout bounds the wait for another process's lock on the file;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// MaxConcurrentJobs is how many jobs may be active (queued, scheduled
	// or running) at once, as the hub's tier allows: zero means
	// hub.MaxActiveJobsS1, the Free and S1 tiers' limit.
	MaxConcurrentJobs int
}

// Hub is an IoT hub stored in one bbolt file. It is safe for concurrent use
// by many goroutines; bbolt serialises writers and lets readers run in
// parallel. Only one process may have a hub open for writing.
type Hub struct {
	db       *bolt.DB
	path     string
	readOnly bool
	now      func() time.Time

	mu     sync.Mutex
	router MethodRouter // nil: every device is offline
	watch  watchers

	jobs    jobEngine
	configs configEngine
}

var _ hub.Hub = (*Hub)(nil)

// schemaVersion is the version of the record layout this package writes and
// reads. Every record carries it, and so does the meta bucket.
const schemaVersion = 1

var (
	bucketMeta    = []byte("meta")
	bucketDevices = []byte("devices")
	bucketModules = []byte("modules")

	keySchema     = []byte("schema")
	keyGeneration = []byte("generation") // last generationId handed out
	keyTwinETag   = []byte("twinEtag")   // last twin etag counter handed out
	keyStats      = []byte("stats")      // device counts by status
	keyPolicies   = []byte("policies")   // shared access policies
)

// Open opens the hub database at path, creating it (and its folder, 0700)
// when it does not exist. With opts.ReadOnly the file must exist and nothing
// is created; a missing file is an error that Is fs.ErrNotExist.
func Open(path string, opts Options) (*Hub, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create hub database folder: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("the hub database at %s is %w (waited %s)", path, ErrInUse, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open hub database %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	h := &Hub{db: db, path: path, readOnly: opts.ReadOnly, now: now}
	h.jobs.limit = opts.MaxConcurrentJobs
	if err := h.init(); err != nil {
		db.Close()
		return nil, err
	}
	return h, nil
}

// OpenReadOnly opens an existing hub database for reading only. It is Open
// with opts.ReadOnly set.
func OpenReadOnly(path string, opts Options) (*Hub, error) {
	opts.ReadOnly = true
	return Open(path, opts)
}

// Close releases the database and its lock. Calls in flight finish first.
func (h *Hub) Close() error {
	return h.db.Close()
}

// init creates the buckets of a new database and checks the schema version
// of an existing one.
func (h *Hub) init() error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		v := meta.Get(keySchema)
		if v == nil {
			return nil
		}
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("hub database %s: unreadable schema version: %w", h.path, err)
		}
		if n > schemaVersion {
			return fmt.Errorf("hub database %s has schema version %d; this iotplan reads versions up to %d", h.path, n, schemaVersion)
		}
		return nil
	}
	if h.readOnly {
		return h.db.View(check)
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketMeta, bucketDevices, bucketModules} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("hub database %s: create bucket %s: %w", h.path, name, err)
			}
		}
		if err := buildTagIndex(tx); err != nil {
			return fmt.Errorf("hub database %s: index tags: %w", h.path, err)
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyPolicies) == nil {
			if err := putPolicies(meta, newPolicies()); err != nil {
				return fmt.Errorf("hub database %s: %w", h.path, err)
			}
		}
		if meta.Get(keySchema) == nil {
			return meta.Put(keySchema, []byte(fmt.Sprint(schemaVersion)))
		}
		return nil
	})
}

// update runs fn in one read-write transaction. A *hub.Error returned by fn
// comes back unchanged, and nothing fn wrote is kept.
func (h *Hub) update(op string, fn func(tx *bolt.Tx) error) error {
	if h.readOnly {
		return fmt.Errorf("%s: the hub database at %s is open %w", op, h.path, ErrReadOnly)
	}
	err := h.db.Update(fn)
	var he *hub.Error
	if err == nil || errors.As(err, &he) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// view runs fn in one read-only transaction.
func (h *Hub) view(op string, fn func(tx *bolt.Tx) error) error {
	err := h.db.View(fn)
	var he *hub.Error
	if err == nil || errors.As(err, &he) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// clock returns the hub's current time, in UTC and truncated to the 100 ns
// ticks IoT Hub reports.
func (h *Hub) clock() time.Time {
	return h.now().UTC().Truncate(100 * time.Nanosecond)
}

// counter reads a uint64 counter of the meta bucket.
func counter(meta *bolt.Bucket, key []byte) uint64 {
	v := meta.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putCounter(meta *bolt.Bucket, key []byte, n uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return meta.Put(key, b[:])
}

// dotNetEpochTicks is 1970-01-01 in .NET ticks (100 ns since 0001-01-01),
// the unit IoT Hub's generation IDs look like.
const dotNetEpochTicks = 621355968000000000

// nextGenerationID hands out a generation ID: the current time in .NET ticks,
// or one more than the last one handed out when the clock has not moved on,
// so that a re-created identity never gets the same generation ID twice.
func (h *Hub) nextGenerationID(tx *bolt.Tx, now time.Time) (string, error) {
	meta := tx.Bucket(bucketMeta)
	g := uint64(now.UnixNano()/100 + dotNetEpochTicks)
	if last := counter(meta, keyGeneration); g <= last {
		g = last + 1
	}
	if err := putCounter(meta, keyGeneration, g); err != nil {
		return "", err
	}
	return fmt.Sprint(g), nil
}

// nextTwinETag hands out a twin etag counter. The counter is shared by all
// twins of the hub, so a twin that is deleted and created again never
// repeats an etag a client may still hold.
func nextTwinETag(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	n := counter(meta, keyTwinETag) + 1
	return n, putCounter(meta, keyTwinETag, n)
}

// stats are the device counts kept beside the records, so that Statistics
// reads one key however large the registry is.
type stats struct {
	Enabled  int64 `json:"enabled"`
	Disabled int64 `json:"disabled"`
}

func readStats(meta *bolt.Bucket) (stats, error) {
	var s stats
	if meta == nil {
		return s, nil
	}
	v := meta.Get(keyStats)
	if v == nil {
		return s, nil
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return s, fmt.Errorf("decode device counts: %w", err)
	}
	return s, nil
}

// addStats adds delta to the count of status.
func addStats(tx *bolt.Tx, status hub.Status, delta int64) error {
	meta := tx.Bucket(bucketMeta)
	s, err := readStats(meta)
	if err != nil {
		return err
	}
	if status == hub.StatusDisabled {
		s.Disabled += delta
	} else {
		s.Enabled += delta
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return meta.Put(keyStats, b)
}
