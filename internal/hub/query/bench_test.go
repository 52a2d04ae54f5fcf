package query

import (
	"fmt"
	"slices"
	"testing"
)

// benchFleet generates n device twins shaped like the local hub's: 100
// sites, 10 floors, a few desired and reported properties with metadata.
func benchFleet(n int) []map[string]any {
	docs := make([]map[string]any, n)
	for i := range docs {
		id := fmt.Sprintf("device-%06d", i)
		docs[i] = map[string]any{
			"deviceId":                  id,
			"etag":                      "AAAAAAAAAAE=",
			"deviceEtag":                "NzI4NTU4MDQ5",
			"status":                    "enabled",
			"statusUpdateTime":          "0001-01-01T00:00:00Z",
			"connectionState":           []string{"Connected", "Disconnected"}[i%2],
			"lastActivityTime":          "2024-05-01T10:00:00Z",
			"cloudToDeviceMessageCount": 0.0,
			"authenticationType":        "sas",
			"x509Thumbprint":            map[string]any{"primaryThumbprint": nil, "secondaryThumbprint": nil},
			"modelId":                   "",
			"version":                   float64(i%7 + 1),
			"capabilities":              map[string]any{"iotEdge": i%10 == 0},
			"tags": map[string]any{
				"site":        fmt.Sprintf("site-%02d", i%100),
				"floor":       float64(i / 100 % 10),
				"environment": []string{"prod", "test"}[i%2],
				"owner":       map[string]any{"team": "ops", "contact": "ops@example.com"},
			},
			"properties": map[string]any{
				"desired": map[string]any{
					"telemetryInterval": 10.0,
					"firmware":          map[string]any{"version": "2.0.1"},
					"$metadata":         map[string]any{"$lastUpdated": "2024-01-01T00:00:00Z"},
					"$version":          3.0,
				},
				"reported": map[string]any{
					"telemetryInterval": 10.0,
					"firmware":          map[string]any{"version": []string{"2.0.1", "1.9.0"}[i%3/2]},
					"temperature":       20 + float64(i%15),
					"$metadata":         map[string]any{"$lastUpdated": "2024-01-01T00:00:00Z"},
					"$version":          12.0,
				},
			},
		}
	}
	return docs
}

// BenchmarkMatch measures WHERE evaluation over 100,000 generated twins
// with a selective tag condition (one twin in 1,000 matches). One op is
// one document, so ns/op is the cost per document.
func BenchmarkMatch(b *testing.B) {
	docs := benchFleet(100_000)
	for _, bm := range []struct{ name, query string }{
		{"tags", "SELECT * FROM devices WHERE tags.site = 'site-42' AND tags.floor = 3"},
		{"tags-case-insensitive", "SELECT * FROM devices WHERE Tags.Site = 'site-42' AND TAGS.FLOOR = 3"},
		{"mixed", "SELECT * FROM devices WHERE tags.environment = 'prod' AND properties.reported.firmware.version != properties.desired.firmware.version AND NOT IS_DEFINED(tags.retired) AND tags.site IN ['site-42', 'site-43']"},
	} {
		q, err := Parse(bm.query)
		if err != nil {
			b.Fatal(err)
		}
		matches := 0
		for _, d := range docs {
			if q.Match(d) {
				matches++
			}
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q.Match(docs[i])
				i++
				if i == len(docs) {
					i = 0
				}
			}
			b.ReportMetric(float64(matches), "matches/100k")
		})
	}
}

// BenchmarkRun measures a whole GROUP BY query over 100,000 twins; one op
// is the whole fleet.
func BenchmarkRun(b *testing.B) {
	docs := benchFleet(100_000)
	q, err := Parse("SELECT tags.site AS site, COUNT() AS n, AVG(properties.reported.temperature) AS t FROM devices WHERE tags.environment = 'prod' GROUP BY tags.site")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Run(slices.Values(docs)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	const query = "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices WHERE tags.location.region = 'US' AND (properties.reported.telemetryConfig.sendFrequencyInSecs >= 60 OR NOT IS_DEFINED(tags.x)) AND deviceId IN ['a', 'b', 'c'] GROUP BY properties.reported.telemetryConfig.status"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(query); err != nil {
			b.Fatal(err)
		}
	}
}
