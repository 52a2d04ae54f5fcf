package localhub

import (
	"context"
	"regexp"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub/query"
)

// moduleTargetForm matches the module form of a job's queryCondition and
// of a configuration's targetCondition: "FROM devices.modules", then
// optionally "WHERE <condition>".
var moduleTargetForm = regexp.MustCompile(`(?is)^\s*FROM\s+devices\.modules(?:\s+WHERE\s+(.*)|\s*)$`)

// parseTargetCondition parses a job's queryCondition or a configuration's
// targetCondition into a SELECT * query over device twins, or over module
// twins for the form "FROM devices.modules WHERE <condition>". "*" means
// every device twin. cond must not be empty.
func parseTargetCondition(cond string) (*query.Query, error) {
	if strings.TrimSpace(cond) == "*" {
		return query.Parse("SELECT * FROM devices")
	}
	if m := moduleTargetForm.FindStringSubmatch(cond); m != nil {
		if strings.TrimSpace(m[1]) == "" {
			return query.Parse("SELECT * FROM devices.modules")
		}
		return query.ParseCondition(query.Modules, m[1])
	}
	return query.ParseCondition(query.Devices, cond)
}

// targets returns the devices, or modules, whose twins q matches, sorted by
// device ID and then module ID.
func (h *Hub) targets(ctx context.Context, q *query.Query) ([]target, error) {
	src := sourceOf(q)
	ids, byID := q.DeviceIDs()
	var out []target
	err := h.view("evaluate query", func(tx *bolt.Tx) error {
		b := tx.Bucket(src.bucket())
		if b == nil {
			return nil
		}
		keys := cursorFrom(b.Cursor(), nil, src, ids, byID)
		n := 0
		for k, v := keys(); k != nil; k, v = keys() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if !q.HasWhere() {
				// Every twin matches: the key names it.
				deviceID, moduleID, _ := strings.Cut(string(k), "\x00")
				out = append(out, target{deviceID, moduleID})
				continue
			}
			t, err := src.twin(v)
			if err != nil {
				return err
			}
			doc, err := document(t)
			if err != nil {
				return err
			}
			if q.Match(doc) {
				out = append(out, target{t.DeviceID, t.ModuleID})
			}
		}
		return nil
	})
	return out, err
}
