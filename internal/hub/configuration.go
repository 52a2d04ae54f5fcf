package hub

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of automatic device configurations.
const (
	MaxConfigurations       = 100 // per paid hub (a free hub allows 10)
	MaxConfigurationMetrics = 5   // custom metric queries per configuration
	MaxConfigurationID      = 128
)

// ConfigurationIDCharacters lists the characters, beyond lower-case ASCII
// letters and digits, that a configuration ID may contain.
const ConfigurationIDCharacters = "-+%_*!'"

// ContentPathPrefix starts every key of a configuration's device or module
// content: the content writes the desired properties below it.
const ContentPathPrefix = "properties.desired."

// The two system metrics the hub computes for every configuration.
const (
	MetricTargetedCount = "targetedCount"
	MetricAppliedCount  = "appliedCount"
)

// Configuration is an automatic device (or module) configuration: the
// desired properties its Content writes into every twin its
// TargetCondition matches, with the metrics the hub computes over them.
type Configuration struct {
	ID            string               `json:"id"`
	SchemaVersion string               `json:"schemaVersion,omitempty"`
	Labels        map[string]string    `json:"labels,omitempty"`
	Content       ConfigurationContent `json:"content"`
	ContentType   string               `json:"contentType,omitempty"`
	// TargetCondition is the WHERE condition of a twin query, "*" for
	// every device, or "FROM devices.modules WHERE <condition>" for a
	// module configuration. "" targets nothing.
	TargetCondition string `json:"targetCondition"`
	// CreatedTimeUTC and LastUpdatedTimeUTC are set by the hub.
	CreatedTimeUTC     time.Time `json:"createdTimeUtc,omitzero"`
	LastUpdatedTimeUTC time.Time `json:"lastUpdatedTimeUtc,omitzero"`
	// Priority decides between configurations that target one twin:
	// the higher wins, and between equals the one created last.
	Priority int `json:"priority"`
	// SystemMetrics are computed by the hub: targetedCount and
	// appliedCount.
	SystemMetrics *ConfigurationMetrics `json:"systemMetrics,omitempty"`
	// Metrics are the custom metrics: Queries are given by the user, at
	// most MaxConfigurationMetrics of them; Results are computed by the hub
	// as the number of rows each query returns.
	Metrics *ConfigurationMetrics `json:"metrics,omitempty"`
	ETag    string                `json:"etag,omitempty"`
}

// ConfigurationContent is what a configuration writes. Exactly one member
// is set. Keys of DeviceContent and ModuleContent are twin paths that start
// with ContentPathPrefix, such as "properties.desired.firmware"; values are
// what the path is set to. ModulesContent is an IoT Edge deployment.
type ConfigurationContent struct {
	DeviceContent  map[string]any            `json:"deviceContent,omitempty"`
	ModulesContent map[string]map[string]any `json:"modulesContent,omitempty"`
	ModuleContent  map[string]any            `json:"moduleContent,omitempty"`
}

// IsZero reports whether the content has no member at all.
func (c ConfigurationContent) IsZero() bool {
	return c.DeviceContent == nil && c.ModulesContent == nil && c.ModuleContent == nil
}

// ConfigurationMetrics holds metric queries by name and their results (the
// number of rows each returned) by name.
type ConfigurationMetrics struct {
	Results map[string]int64  `json:"results,omitempty"`
	Queries map[string]string `json:"queries,omitempty"`
}

// ConfigurationQueriesTestInput is the body of POST
// /configurations/testQueries: a target condition and metric queries to
// check without creating a configuration.
type ConfigurationQueriesTestInput struct {
	TargetCondition     string            `json:"targetCondition"`
	CustomMetricQueries map[string]string `json:"customMetricQueries,omitempty"`
}

// ConfigurationQueriesTestResponse says what is wrong with each query of a
// ConfigurationQueriesTestInput; "" and no entry mean nothing.
type ConfigurationQueriesTestResponse struct {
	TargetConditionError    string            `json:"targetConditionError"`
	CustomMetricQueryErrors map[string]string `json:"customMetricQueryErrors"`
}

// ConfigurationStatus is what a configuration is to one twin.
type ConfigurationStatus string

// The statuses a twin records for each configuration that targets it.
const (
	// ConfigurationTargeted: the twin matches the target condition, but
	// configurations of higher priority set every path of the content.
	ConfigurationTargeted ConfigurationStatus = "Targeted"
	// ConfigurationApplied: the content, or part of it, is written to the
	// twin's desired properties.
	ConfigurationApplied ConfigurationStatus = "Applied"
)

// TwinConfiguration is one entry of a twin's configurations member.
type TwinConfiguration struct {
	Status ConfigurationStatus `json:"status"`
}

// ValidateConfigurationID checks a configuration ID against the hub's
// rule: 1 to 128 lower-case ASCII letters, digits and the characters of
// ConfigurationIDCharacters.
func ValidateConfigurationID(id string) error {
	if id == "" {
		return fmt.Errorf("the configuration ID is empty")
	}
	var bad []string
	seen := map[rune]bool{}
	for _, r := range id {
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(ConfigurationIDCharacters, r))
		if ok || seen[r] {
			continue
		}
		seen[r] = true
		bad = append(bad, quoteRune(r))
	}
	if len(bad) > 0 {
		return fmt.Errorf("configuration ID %q contains %s; a configuration ID may contain only lower-case ASCII letters, digits and %s",
			id, joinAnd(bad), strings.Join(strings.Split(ConfigurationIDCharacters, ""), " "))
	}
	if len(id) > MaxConfigurationID {
		return fmt.Errorf("configuration ID %q is %d characters long; the most IoT Hub allows is %d", id, len(id), MaxConfigurationID)
	}
	return nil
}
