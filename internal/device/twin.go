package device

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotplan/iotplan/internal/hub"
)

// response is the hub's answer to a twin request.
type response struct {
	status  int
	version int64
	body    []byte
}

// Twin returns the properties of the device's (or module's) twin: desired
// and reported, each with its "$version".
func (c *Client) Twin(ctx context.Context) (*hub.TwinProperties, error) {
	res, err := c.twinRequest(ctx, "$iothub/twin/GET/?$rid=", []byte(" "))
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, hubError(res, "twin GET")
	}
	var props hub.TwinProperties
	if err := json.Unmarshal(res.body, &props); err != nil {
		return nil, fmt.Errorf("twin GET: the hub's answer is not a twin: %w", err)
	}
	return &props, nil
}

// UpdateReported merges patch into the reported properties (a nil value
// removes a key) and returns their new $version.
func (c *Client) UpdateReported(ctx context.Context, patch map[string]any) (int64, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return 0, fmt.Errorf("reported PATCH: %w", err)
	}
	res, err := c.twinRequest(ctx, "$iothub/twin/PATCH/properties/reported/?$rid=", body)
	if err != nil {
		return 0, err
	}
	if res.status != http.StatusNoContent && res.status != http.StatusOK {
		return 0, hubError(res, "reported PATCH")
	}
	return res.version, nil
}

// twinRequest publishes a twin request and waits for its response. The
// hub answers requests in order of arrival, matched by $rid (reference §6).
func (c *Client) twinRequest(ctx context.Context, topicPrefix string, body []byte) (response, error) {
	if err := c.subscribe(ctx, twinResponses, 0, c.onTwinResponse); err != nil {
		return response{}, err
	}
	rid := c.nextRID()
	ch := make(chan response, 1)
	c.mu.Lock()
	c.twins[rid] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.twins, rid)
		c.mu.Unlock()
	}()
	if err := wait(ctx, c.pc.Publish(topicPrefix+rid, 0, false, body)); err != nil {
		return response{}, fmt.Errorf("send twin request: %w", err)
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return response{}, ctx.Err()
	}
}

// onTwinResponse hands a twin response to its request.
func (c *Client) onTwinResponse(_ paho.Client, m paho.Message) {
	status, rid, version, err := parseTwinResponse(m.Topic())
	if err != nil {
		return
	}
	c.mu.Lock()
	ch := c.twins[rid]
	c.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- response{status: status, version: version, body: m.Payload()}:
	default:
	}
}

// hubError turns an error response's body, {"errorCode":…,"message":…},
// into a *hub.Error.
func hubError(res response, op string) error {
	var body struct {
		ErrorCode int    `json:"errorCode"`
		Message   string `json:"message"`
	}
	_ = json.Unmarshal(res.body, &body)
	if body.Message == "" {
		body.Message = strings.TrimSpace(string(res.body))
	}
	return &hub.Error{StatusCode: res.status, Code: body.ErrorCode, Message: op + ": " + body.Message}
}

// OnDesired subscribes to desired-property notifications and calls fn with
// each patch (without its "$version") and the desired $version it brings.
// A later call replaces fn. It returns once the hub has the subscription.
func (c *Client) OnDesired(ctx context.Context, fn func(patch map[string]any, version int64)) error {
	c.mu.Lock()
	c.onDesired = fn
	c.mu.Unlock()
	return c.subscribe(ctx, desiredPatches, 0, func(_ paho.Client, m paho.Message) {
		var patch map[string]any
		if err := json.Unmarshal(m.Payload(), &patch); err != nil {
			return
		}
		var version int64
		if v, ok := patch["$version"].(float64); ok {
			version = int64(v)
		}
		delete(patch, "$version")
		c.enqueue(func() {
			c.mu.Lock()
			fn := c.onDesired
			c.mu.Unlock()
			fn(patch, version)
		})
	})
}
