package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GET /devices/x: 401", "GET /devices/x: 401"},
		{"Authorization: SharedAccessSignature sr=h&sig=abc%2B&se=1&skn=iothubowner", "Authorization: SharedAccessSignature (redacted)"},
		{"HostName=h;DeviceId=d;SharedAccessKey=c2VjcmV0;x=1", "HostName=h;DeviceId=d;SharedAccessKey=(redacted);x=1"},
		{`url "https://h/devices?sig=abc&se=1"`, `url "https://h/devices?sig=(redacted)&se=1"`},
	}
	for _, tt := range tests {
		if got := redactSecrets(tt.in); got != tt.want {
			t.Errorf("redactSecrets(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLogRedacts checks the handler's redaction of strings and errors
// alike.
func TestLogRedacts(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: redactAttr}))
	log.Info("call", "cs", "HostName=h;SharedAccessKey=c2VjcmV0", "err", errors.New("token SharedAccessSignature sr=h&sig=c2VjcmV0"))
	if strings.Contains(buf.String(), "c2VjcmV0") {
		t.Errorf("a secret was logged: %s", buf.String())
	}
}
