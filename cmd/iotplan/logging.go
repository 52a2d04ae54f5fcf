package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
)

// hubLog receives the hub client's log lines: a line per HTTP call at
// debug, one per retry at info. IOTPLAN_LOG sets the level and
// IOTPLAN_LOG_PATH the file (standard error without it); unset, nothing
// is logged. It is set once, when the process starts (run).
var hubLog = slog.New(slog.DiscardHandler)

// logLevels are the values IOTPLAN_LOG takes.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "trace": slog.LevelDebug,
	"info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// openLog makes the logger IOTPLAN_LOG and IOTPLAN_LOG_PATH ask for, and
// returns a function that closes its file.
func openLog(stderr io.Writer) (*slog.Logger, func(), error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("IOTPLAN_LOG")))
	if name == "" || name == "off" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	level, ok := logLevels[name]
	if !ok {
		return nil, nil, fmt.Errorf("IOTPLAN_LOG=%q: the level must be debug, info, warn, error or off", os.Getenv("IOTPLAN_LOG"))
	}
	out, closeOut := stderr, func() {}
	if path := os.Getenv("IOTPLAN_LOG_PATH"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("IOTPLAN_LOG_PATH: %w", err)
		}
		out, closeOut = f, func() { _ = f.Close() }
	}
	h := slog.NewTextHandler(out, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	return slog.New(h), closeOut, nil
}

// secretPattern matches what must never reach a log: SAS tokens and the
// keys of connection strings. The client does not log them; this is the
// second line of defence.
var secretPattern = regexp.MustCompile(`(?i)(SharedAccessSignature\s+\S+|(?:SharedAccessKey|sig)=[^;&\s"]+)`)

// redactAttr replaces secrets in string values with a placeholder.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); secretPattern.MatchString(s) {
			a.Value = slog.StringValue(redactSecrets(s))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && secretPattern.MatchString(err.Error()) {
			a.Value = slog.StringValue(redactSecrets(err.Error()))
		}
	}
	return a
}

func redactSecrets(s string) string {
	return secretPattern.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(strings.ToLower(m), "sharedaccesssignature") {
			return "SharedAccessSignature (redacted)"
		}
		k, _, _ := strings.Cut(m, "=")
		return k + "=(redacted)"
	})
}
