package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// twinReader is what the refreshes need of a hub: the paged query plan
// uses, and the single-twin reads of a naive refresh. The embedded hub and
// the REST client both are one.
type twinReader interface {
	QueryTwins(ctx context.Context, query string, opts hub.QueryOptions) (*hub.TwinPage, error)
	Twin(ctx context.Context, deviceID string) (*hub.Twin, error)
	ModuleTwin(ctx context.Context, deviceID, moduleID string) (*hub.Twin, error)
}

// twinID names one device twin (module "") or module twin.
type twinID struct{ device, module string }

// twinIDs returns the identities the state manages, in address order: what
// a refresh that reads resource by resource reads.
func twinIDs(s *state.State) []twinID {
	ids := make([]twinID, 0, len(s.Resources))
	for _, addr := range s.Addresses() {
		r := s.Resources[addr]
		ids = append(ids, twinID{device: r.DeviceID, module: r.ModuleID})
	}
	return ids
}

// pagedRefresh reads every twin as plan does, with paged queries, and
// returns the time it took and how many twins it read.
func pagedRefresh(ctx context.Context, h plan.Reader, pageSize int) (time.Duration, int, error) {
	t0 := time.Now()
	a, err := plan.Refresh(ctx, h, pageSize)
	if err != nil {
		return 0, 0, err
	}
	return time.Since(t0), len(a.Devices) + len(a.Modules), nil
}

// naiveRefresh reads every twin of ids with one GET each, parallelism at a
// time, as Terraform's refresh reads one resource per call. It returns the
// time the reads took and how many twins were read.
func naiveRefresh(ctx context.Context, h twinReader, ids []twinID, parallelism int) (time.Duration, int, error) {
	var read atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	t0 := time.Now()
	for _, id := range ids {
		g.Go(func() error {
			var err error
			if id.module == "" {
				_, err = h.Twin(ctx, id.device)
			} else {
				_, err = h.ModuleTwin(ctx, id.device, id.module)
			}
			if err != nil {
				return fmt.Errorf("read twin %s: %w", id, err)
			}
			read.Add(1)
			return nil
		})
	}
	err := g.Wait()
	return time.Since(t0), int(read.Load()), err
}

func (id twinID) String() string {
	if id.module == "" {
		return id.device
	}
	return id.device + "/" + id.module
}

// restClient returns a REST client of the hub that connectionString names,
// over plain HTTP, keeping as many idle connections as the naive refresh
// has calls in flight, so that it is not slowed by reconnecting.
func restClient(connectionString string) (*hub.Client, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, fmt.Errorf("hub serve's connection string: %w", err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = naiveParallelism
	return hub.NewClient(cs, hub.ClientOptions{Insecure: true, HTTPClient: &http.Client{Transport: t}, UserAgent: "iotplan-bench"})
}
