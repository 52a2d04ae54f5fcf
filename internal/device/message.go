package device

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// MaxMessageBytes is the largest device-to-cloud message body IoT Hub
// accepts.
const MaxMessageBytes = 256 * 1024

// Message is a cloud-to-device message as the device receives it.
type Message struct {
	// System holds the system properties, by wire name without "$."
	// ("mid" message ID, "to", "cid", "ct", "ce", …).
	System map[string]string
	// Properties holds the application properties, iothub-ack among them.
	Properties map[string]string
	Body       []byte
}

// SendEvent sends a device-to-cloud message with properties props (keys
// starting "$." are system properties: "$.ct" content type, "$.ce" content
// encoding, "$.mid" message ID, …) and returns once the hub has accepted
// it (QoS 1).
func (c *Client) SendEvent(ctx context.Context, props map[string]string, body []byte) error {
	if len(body) > MaxMessageBytes {
		return fmt.Errorf("send event: the body is %d bytes; IoT Hub accepts at most %d", len(body), MaxMessageBytes)
	}
	topic := "devices/" + c.cfg.DeviceID + "/messages/events/"
	if c.cfg.ModuleID != "" {
		topic = "devices/" + c.cfg.DeviceID + "/modules/" + c.cfg.ModuleID + "/messages/events/"
	}
	if err := wait(ctx, c.pc.Publish(topic+encodeBag(props), 1, false, body)); err != nil {
		return fmt.Errorf("send event: %w", err)
	}
	return nil
}

// OnC2D subscribes a device to its cloud-to-device messages and calls fn
// with each. The hub counts a message as delivered once it is received;
// MQTT has no way to reject or abandon one. A later call replaces fn. It
// returns once the hub has the subscription. Modules receive none.
func (c *Client) OnC2D(ctx context.Context, fn func(Message)) error {
	if c.cfg.ModuleID != "" {
		return errors.New("cloud-to-device messages go to devices, not modules")
	}
	c.mu.Lock()
	c.onC2D = fn
	c.mu.Unlock()
	prefix := "devices/" + c.cfg.DeviceID + "/messages/devicebound/"
	return c.subscribe(ctx, prefix+"#", 1, func(_ paho.Client, m paho.Message) {
		bag := m.Topic()[min(len(prefix), len(m.Topic())):]
		system, app, err := parseBag(bag)
		if err != nil {
			return
		}
		msg := Message{System: system, Properties: app, Body: m.Payload()}
		c.enqueue(func() {
			c.mu.Lock()
			fn := c.onC2D
			c.mu.Unlock()
			fn(msg)
		})
	})
}

// OnMethod subscribes to direct methods and answers each with what fn
// returns: a status and a JSON payload (nil sends none, which the hub
// passes on as null). A later call replaces fn. It returns once the hub
// has the subscription.
func (c *Client) OnMethod(ctx context.Context, fn func(name string, payload []byte) (status int, response []byte)) error {
	c.mu.Lock()
	c.onMethod = fn
	c.mu.Unlock()
	return c.subscribe(ctx, methodRequests, 0, func(_ paho.Client, m paho.Message) {
		name, rid, err := parseMethodRequest(m.Topic())
		if err != nil {
			return
		}
		payload := m.Payload()
		c.enqueue(func() {
			c.mu.Lock()
			fn := c.onMethod
			c.mu.Unlock()
			status, resp := fn(name, payload)
			topic := "$iothub/methods/res/" + strconv.Itoa(status) + "/?$rid=" + rid
			_ = wait(c.ctx, c.pc.Publish(topic, 0, false, resp))
		})
	})
}
