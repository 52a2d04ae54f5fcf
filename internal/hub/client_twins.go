package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxClientQueryPageSize is the largest page the client asks for: the
// service documents 100 as its maximum.
const MaxClientQueryPageSize = 100

func twinPath(deviceID, moduleID string) string {
	if moduleID == "" {
		return apiPath("twins", escapeSegment(deviceID))
	}
	return apiPath("twins", escapeSegment(deviceID), "modules", escapeSegment(moduleID))
}

// Twin returns a device twin.
func (c *Client) Twin(ctx context.Context, deviceID string) (*Twin, error) {
	if err := checkIDArg("device", deviceID); err != nil {
		return nil, err
	}
	return c.getTwin(ctx, deviceID, "")
}

// ModuleTwin returns a module twin.
func (c *Client) ModuleTwin(ctx context.Context, deviceID, moduleID string) (*Twin, error) {
	if err := checkModuleArgs(deviceID, moduleID); err != nil {
		return nil, err
	}
	return c.getTwin(ctx, deviceID, moduleID)
}

func (c *Client) getTwin(ctx context.Context, deviceID, moduleID string) (*Twin, error) {
	res, err := c.do(ctx, &request{method: http.MethodGet, path: twinPath(deviceID, moduleID)}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeTwin(res.body)
}

// PatchTwin merges tags and desired properties into a device twin (PATCH
// /twins/{id}). If-Match is sent only when ifMatch is set.
func (c *Client) PatchTwin(ctx context.Context, deviceID string, patch TwinPatch, ifMatch string) (*Twin, error) {
	if err := checkIDArg("device", deviceID); err != nil {
		return nil, err
	}
	return c.writeTwin(ctx, http.MethodPatch, deviceID, "", patch.Body(), ifMatch, func(tw *Twin) bool { return patchReflected(tw, patch) })
}

// PatchModuleTwin merges tags and desired properties into a module twin.
func (c *Client) PatchModuleTwin(ctx context.Context, deviceID, moduleID string, patch TwinPatch, ifMatch string) (*Twin, error) {
	if err := checkModuleArgs(deviceID, moduleID); err != nil {
		return nil, err
	}
	return c.writeTwin(ctx, http.MethodPatch, deviceID, moduleID, patch.Body(), ifMatch, func(tw *Twin) bool { return patchReflected(tw, patch) })
}

// replaceBody is a twin PUT body. Both sections are always sent, as the
// reference advises: what the service does with a missing one is not
// documented.
type replaceBody struct {
	Tags       map[string]any `json:"tags"`
	Properties struct {
		Desired map[string]any `json:"desired"`
	} `json:"properties"`
}

func newReplaceBody(r TwinPatch) replaceBody {
	var b replaceBody
	b.Tags = r.Tags
	if b.Tags == nil {
		b.Tags = map[string]any{}
	}
	b.Properties.Desired = r.Desired
	if b.Properties.Desired == nil {
		b.Properties.Desired = map[string]any{}
	}
	return b
}

// ReplaceTwin replaces a device twin's tags and desired properties (PUT
// /twins/{id}).
func (c *Client) ReplaceTwin(ctx context.Context, deviceID string, replacement TwinPatch, ifMatch string) (*Twin, error) {
	if err := checkIDArg("device", deviceID); err != nil {
		return nil, err
	}
	return c.writeTwin(ctx, http.MethodPut, deviceID, "", newReplaceBody(replacement), ifMatch, func(tw *Twin) bool { return replaced(tw, replacement) })
}

// ReplaceModuleTwin replaces a module twin's tags and desired properties.
func (c *Client) ReplaceModuleTwin(ctx context.Context, deviceID, moduleID string, replacement TwinPatch, ifMatch string) (*Twin, error) {
	if err := checkModuleArgs(deviceID, moduleID); err != nil {
		return nil, err
	}
	return c.writeTwin(ctx, http.MethodPut, deviceID, moduleID, newReplaceBody(replacement), ifMatch, func(tw *Twin) bool { return replaced(tw, replacement) })
}

// writeTwin sends a twin PATCH or PUT. Both are repeated after a
// transient failure: they write the same content again. When a repeat
// with an etag is answered 412, the first attempt may have been the one
// that changed the etag: the write has succeeded if the twin holds what
// was sent.
func (c *Client) writeTwin(ctx context.Context, method, deviceID, moduleID string, body any, ifMatch string, took func(*Twin) bool) (*Twin, error) {
	req := &request{method: method, path: twinPath(deviceID, moduleID), body: body}
	if ifMatch != "" {
		req.header = ifMatchHeader(ifMatch)
	}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		if res.uncertain && errors.Is(err, ErrPreconditionFailed) {
			if tw, rerr := c.getTwin(ctx, deviceID, moduleID); rerr == nil && took(tw) {
				return tw, nil
			}
		}
		return nil, err
	}
	return decodeTwin(res.body)
}

// Query runs a query of IoT Hub's query language and returns one page of
// its results as the hub sent them (POST /devices/query): twins, job
// records or projected rows, as ItemType says. The page size asked for is
// at most MaxClientQueryPageSize. A query only reads, so it is retried
// like any read.
func (c *Client) Query(ctx context.Context, query string, opts QueryOptions) (*QueryPage, error) {
	req := &request{method: http.MethodPost, path: apiPath("devices", "query"), body: struct {
		Query string `json:"query"`
	}{query}, header: http.Header{}}
	if opts.PageSize > 0 {
		req.header.Set("x-ms-max-item-count", strconv.Itoa(min(opts.PageSize, MaxClientQueryPageSize)))
	}
	if opts.Continuation != "" {
		req.header.Set("x-ms-continuation", opts.Continuation)
	}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		return nil, err
	}
	items, err := decodeQueryPage(res.body)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return &QueryPage{
		ItemType:     strings.TrimSpace(res.header.Get("x-ms-item-type")),
		Items:        items,
		Continuation: strings.TrimSpace(res.header.Get("x-ms-continuation")),
	}, nil
}

// QueryTwins runs a SELECT * query over device or module twins and
// returns one page of twins.
func (c *Client) QueryTwins(ctx context.Context, query string, opts QueryOptions) (*TwinPage, error) {
	page, err := c.Query(ctx, query, opts)
	if err != nil {
		return nil, err
	}
	if page.ItemType != "" && !strings.EqualFold(page.ItemType, "twin") {
		return nil, fmt.Errorf("query %q returned %s items, not twins; QueryTwins runs SELECT * queries", query, page.ItemType)
	}
	out := &TwinPage{Twins: make([]Twin, 0, len(page.Items)), Continuation: page.Continuation}
	for _, it := range page.Items {
		tw, err := decodeTwin(it)
		if err != nil {
			return nil, err
		}
		out.Twins = append(out.Twins, *tw)
	}
	return out, nil
}

// InvokeDeviceMethod calls a direct method on a device. A method is never
// sent twice unless the hub certainly did not deliver it (a 429, or no
// connection); its HTTP call may last the method's connect and response
// timeouts plus 15 s.
func (c *Client) InvokeDeviceMethod(ctx context.Context, deviceID string, req MethodRequest) (*MethodResult, error) {
	if err := checkIDArg("device", deviceID); err != nil {
		return nil, err
	}
	return c.invoke(ctx, deviceID, "", req)
}

// InvokeModuleMethod calls a direct method on a module.
func (c *Client) InvokeModuleMethod(ctx context.Context, deviceID, moduleID string, req MethodRequest) (*MethodResult, error) {
	if err := checkModuleArgs(deviceID, moduleID); err != nil {
		return nil, err
	}
	return c.invoke(ctx, deviceID, moduleID, req)
}

func (c *Client) invoke(ctx context.Context, deviceID, moduleID string, m MethodRequest) (*MethodResult, error) {
	if len(m.Payload) > 0 && !json.Valid(m.Payload) {
		return nil, Errorf(CodeArgumentInvalid, "the method payload is not valid JSON")
	}
	wait := m.ResponseTimeoutInSeconds
	if wait <= 0 {
		wait = DefaultMethodResponseTimeout
	}
	wait += max(m.ConnectTimeoutInSeconds, 0)
	req := &request{method: http.MethodPost, path: twinPath(deviceID, moduleID) + "/methods", body: m, retry: onlyIfNotDone,
		timeout: time.Duration(wait)*time.Second + methodTimeoutSlack}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		return nil, err
	}
	var out MethodResult
	if err := json.Unmarshal(res.body, &out); err != nil {
		return nil, fmt.Errorf("decode method result: %w", err)
	}
	return &out, nil
}
