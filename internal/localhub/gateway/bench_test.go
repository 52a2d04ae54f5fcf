package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/iotplan/iotplan/internal/hub"
)

func quiet() envOption { return func(o *Options) { o.Logger = slog.New(slog.DiscardHandler) } }

// BenchmarkMethodRoundTrip measures a direct method from the hub's
// InvokeDeviceMethod through TLS to a device and back, and reports the
// median and 99th percentile latency.
func BenchmarkMethodRoundTrip(b *testing.B) {
	e := start(b, quiet())
	ctx := context.Background()
	c := e.connectDevice(b, "dev")
	if err := c.OnMethod(ctx, func(_ string, payload []byte) (int, []byte) { return 200, payload }); err != nil {
		b.Fatal(err)
	}
	req := hub.MethodRequest{MethodName: "echo", Payload: []byte(`{"n":1}`)}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := e.h.InvokeDeviceMethod(ctx, "dev", req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkTelemetryIngest measures device-to-cloud throughput: eight
// devices send 200-byte messages at QoS 1 over TLS, each waiting for its
// PUBACK, while one event stream reads them all.
func BenchmarkTelemetryIngest(b *testing.B) {
	const devices = 8
	e := start(b, quiet())
	ctx := context.Background()
	stream := e.g.Events(4096)
	defer stream.Close()
	clients := make([]interface {
		SendEvent(context.Context, map[string]string, []byte) error
	}, devices)
	for i := range clients {
		clients[i] = e.connectDevice(b, fmt.Sprintf("dev-%d", i))
	}
	body := make([]byte, 200)
	props := map[string]string{"$.ct": "application/json", "$.ce": "utf-8", "site": "berlin"}
	b.ResetTimer()
	start := time.Now()
	received := make(chan int, 1)
	go func() {
		n := 0
		for n < b.N {
			if _, ok := <-stream.C(); !ok {
				break
			}
			n++
		}
		received <- n
	}()
	var g errgroup.Group
	for i, c := range clients {
		n := b.N / devices
		if i < b.N%devices {
			n++
		}
		g.Go(func() error {
			for range n {
				if err := c.SendEvent(ctx, props, body); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	n := <-received
	elapsed := time.Since(start)
	b.StopTimer()
	if dropped := stream.Dropped(); dropped > 0 || n != b.N {
		b.Fatalf("received %d of %d messages, %d dropped", n, b.N, dropped)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
