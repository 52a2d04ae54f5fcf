package localhub

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// policyRecord is a shared access policy as the database keeps it.
type policyRecord struct {
	KeyName      string   `json:"keyName"`
	PrimaryKey   string   `json:"primaryKey"`
	SecondaryKey string   `json:"secondaryKey"`
	Rights       []string `json:"rights"`
}

// newPolicies returns IoT Hub's default policies with fresh keys.
func newPolicies() []hub.SharedAccessPolicy {
	out := make([]hub.SharedAccessPolicy, len(hub.DefaultPolicies))
	for i, p := range hub.DefaultPolicies {
		out[i] = hub.SharedAccessPolicy{KeyName: p.KeyName, PrimaryKey: generateKey(), SecondaryKey: generateKey(),
			Rights: append([]hub.Right(nil), p.Rights...)}
	}
	return out
}

func putPolicies(meta *bolt.Bucket, ps []hub.SharedAccessPolicy) error {
	recs := make([]policyRecord, len(ps))
	for i, p := range ps {
		recs[i] = policyRecord{KeyName: p.KeyName, PrimaryKey: p.PrimaryKey, SecondaryKey: p.SecondaryKey}
		for _, r := range p.Rights {
			recs[i].Rights = append(recs[i].Rights, string(r))
		}
	}
	v, err := json.Marshal(recs)
	if err != nil {
		return fmt.Errorf("encode shared access policies: %w", err)
	}
	return meta.Put(keyPolicies, v)
}

// Policies returns the hub's shared access policies, keys included: the
// REST server and the device gateway check tokens against them.
func (h *Hub) Policies(ctx context.Context) ([]hub.SharedAccessPolicy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []hub.SharedAccessPolicy
	err := h.view("read shared access policies", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyPolicies)
		if v == nil {
			return nil
		}
		var recs []policyRecord
		if err := json.Unmarshal(v, &recs); err != nil {
			return fmt.Errorf("decode shared access policies: %w", err)
		}
		for _, r := range recs {
			p := hub.SharedAccessPolicy{KeyName: r.KeyName, PrimaryKey: r.PrimaryKey, SecondaryKey: r.SecondaryKey}
			for _, right := range r.Rights {
				p.Rights = append(p.Rights, hub.Right(right))
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}
