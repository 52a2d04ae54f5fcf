package main

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
)

// fleetHub is the hub a working folder manages: the embedded hub in
// .iotplan, or the hub of the configuration's hub block, reached through
// the service REST API.
type fleetHub struct {
	hub.Hub
	// name says which hub it is, in messages and in saved plans.
	name string
	// host is the host name devices connect to, for connection strings.
	host string
	// pageSize is the query page size refresh asks for.
	pageSize int
	close    func() error
}

func (f *fleetHub) Close() error {
	if f.close == nil {
		return nil
	}
	return f.close()
}

// embeddedName is the name of the embedded hub in saved plans.
const embeddedName = "embedded hub " + hubFile

// hubOf returns the name and device host of the hub cfg targets, without
// connecting to it.
func hubOf(cfg *config.Config) (name, host string, err error) {
	if cfg == nil || cfg.Hub == nil {
		return embeddedName, hubHost, nil
	}
	cs, err := hub.ParseConnectionString(cfg.Hub.ConnectionString)
	if err != nil {
		return "", "", err
	}
	return "hub " + cs.HostName, cs.HostName, nil
}

// openFleetHub opens the hub cfg targets. readOnly matters for the
// embedded hub only: several read-only runs may share it.
func openFleetHub(cfg *config.Config, readOnly bool) (*fleetHub, error) {
	if cfg == nil || cfg.Hub == nil {
		h, err := openHub(readOnly)
		if err != nil {
			return nil, err
		}
		return &fleetHub{Hub: h, name: embeddedName, host: hubHost, pageSize: hub.MaxQueryPageSize, close: h.Close}, nil
	}
	cs, err := hub.ParseConnectionString(cfg.Hub.ConnectionString)
	if err != nil {
		return nil, fmt.Errorf("hub connection string: %w", err)
	}
	opts := hub.ClientOptions{Insecure: cfg.Hub.Insecure, UserAgent: "iotplan", Logger: hubLog}
	if cfg.Hub.CAFile != "" {
		pool, err := caPool(cfg.Hub.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hub ca_file: %w", err)
		}
		opts.RootCAs = pool
	}
	c, err := hub.NewClient(cs, opts)
	if err != nil {
		return nil, err
	}
	return &fleetHub{Hub: c, name: "hub " + cs.HostName, host: cs.HostName, pageSize: hub.DefaultQueryPageSize}, nil
}

// counter returns the hub as a plan.Counter, when there is a hub that can
// count.
func (f *fleetHub) counter() (plan.Counter, bool) {
	if f == nil {
		return nil, false
	}
	c, ok := f.Hub.(plan.Counter)
	return c, ok
}

// caPool reads a PEM file of CA certificates to trust.
func caPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
