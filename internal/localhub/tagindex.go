package localhub

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The tag index lets a query that asks for a tag's value read only the
// devices that have it, instead of decoding every twin. It indexes each
// scalar leaf of a device twin's tags:
//
//	bucketTagIndex: lower-cased dotted path \x00 JSON value \x00 device ID → nothing
//	bucketTagKeys:  device ID → the device's index keys, \x01-separated
//
// Paths are lower-cased because the query language resolves property names
// without regard to case; values are compared as their JSON encodings.
var (
	bucketTagIndex = []byte("tagindex")
	bucketTagKeys  = []byte("tagkeys")
)

// tagIndexKeys returns the index keys of a device's tags.
func tagIndexKeys(deviceID string, tags map[string]any) [][]byte {
	var keys [][]byte
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := prefix + strings.ToLower(k)
			switch v := v.(type) {
			case map[string]any:
				walk(p+".", v)
			case string, float64, bool:
				if key, ok := tagIndexKey(p, v); ok {
					keys = append(keys, append(key, deviceID...))
				}
			}
		}
	}
	walk("", tags)
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	return keys
}

// tagIndexKey is the prefix of the index keys of a path holding a value.
func tagIndexKey(path string, v any) ([]byte, bool) {
	j, err := json.Marshal(v)
	if err != nil || strings.ContainsAny(path, "\x00\x01") {
		return nil, false
	}
	key := append([]byte(path), 0)
	key = append(key, j...)
	return append(key, 0), true
}

// indexTags replaces the index entries of a device; tags nil removes them.
func indexTags(tx *bolt.Tx, deviceID string, tags map[string]any) error {
	idx, own := tx.Bucket(bucketTagIndex), tx.Bucket(bucketTagKeys)
	if idx == nil || own == nil {
		return nil // a database opened read-only before the index existed
	}
	if old := own.Get([]byte(deviceID)); old != nil {
		for _, k := range bytes.Split(old, []byte{1}) {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
	}
	keys := tagIndexKeys(deviceID, tags)
	if len(keys) == 0 {
		return own.Delete([]byte(deviceID))
	}
	for _, k := range keys {
		if err := idx.Put(k, nil); err != nil {
			return err
		}
	}
	return own.Put([]byte(deviceID), bytes.Join(keys, []byte{1}))
}

// devicesWithTag returns, sorted, the IDs of the devices whose tag at path
// (lower-cased, dotted) holds v; ok is false when the index cannot say.
func devicesWithTag(tx *bolt.Tx, path string, v any) (ids []string, ok bool) {
	idx := tx.Bucket(bucketTagIndex)
	if idx == nil {
		return nil, false
	}
	switch v.(type) {
	case string, float64, bool: // the kinds of value indexed
	default:
		return nil, false
	}
	prefix, ok := tagIndexKey(path, v)
	if !ok {
		return nil, false
	}
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	sort.Strings(ids)
	return ids, true
}

// buildTagIndex indexes every device of a database made before the index
// existed.
func buildTagIndex(tx *bolt.Tx) error {
	if tx.Bucket(bucketTagKeys) != nil {
		return nil
	}
	if _, err := tx.CreateBucket(bucketTagIndex); err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketTagKeys); err != nil {
		return err
	}
	return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		r, err := decodeDevice(v)
		if err != nil {
			return err
		}
		return indexTags(tx, r.DeviceID, r.Twin.Tags)
	})
}
