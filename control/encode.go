package control

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
)

// AppendJSON appends r as json.Marshal encodes it, byte for byte, without
// reflection. A status at 256 instances is some 3,000 fields: by
// reflection, with each start time through its MarshalJSON, encoding them
// took a tenth of the manager's CPU for a status, and half of it when the
// /proc readings were fresh.
func (r Report) AppendJSON(b []byte) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(r.PID), 10)
	b = appendOmitEmpty(b, `,"version":`, r.Version)
	b = append(b, `,"upgrades":`...)
	b = strconv.AppendInt(b, int64(r.Upgrades), 10)
	b = appendOmitEmpty(b, `,"upgrade_error":`, r.UpgradeErr)
	b = append(b, `,"config":`...)
	b = appendString(b, r.Config)
	b = appendOmitEmpty(b, `,"metrics_address":`, r.MetricsAddr)
	b = append(b, `,"instances":`...)
	if r.Instances == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, in := range r.Instances {
			if i > 0 {
				b = append(b, ',')
			}
			b = in.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSON appends s as json.Marshal encodes it.
func (s InstanceStatus) appendJSON(b []byte) []byte {
	b = append(b, `{"port":`...)
	b = strconv.AppendInt(b, int64(s.Port), 10)
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(s.PID), 10)
	b = append(b, `,"state":`...)
	b = appendString(b, s.State)
	b = append(b, `,"uptime_seconds":`...)
	b = appendFloat(b, s.Uptime)
	b = append(b, `,"restarts":`...)
	b = strconv.AppendUint(b, s.Restarts, 10)
	if len(s.ByReason) > 0 {
		b = append(b, `,"restarts_by_reason":`...)
		b = appendCounts(b, s.ByReason)
	}
	b = append(b, `,"rss_bytes":`...)
	b = strconv.AppendInt(b, s.RSS, 10)
	b = append(b, `,"cpu_seconds":`...)
	b = appendFloat(b, s.CPU)
	b = appendOmitEmpty(b, `,"last_error":`, s.LastError)
	b = append(b, `,"reloads":`...)
	b = strconv.AppendUint(b, s.Reloads, 10)
	if !s.StartTime.IsZero() {
		b = append(b, `,"start_time":`...)
		b = appendTime(b, s.StartTime)
	}
	b = append(b, `,"last_exit_code":`...)
	b = strconv.AppendInt(b, int64(s.LastExit), 10)
	return append(b, '}')
}

// appendOmitEmpty appends the key and s, unless s is empty (omitempty).
func appendOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendString appends s quoted. Text of printable ASCII that JSON and
// encoding/json's HTML escaping leave alone (paths, states, most errors)
// is copied as it is; anything else goes through json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form only below 1e-6 and from 1e21, with
// a one-digit negative exponent written e-7, not e-07. f must be finite,
// as json.Marshal requires.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}

// appendCounts appends m with its keys sorted, as encoding/json does.
func appendCounts(b []byte, m map[string]uint64) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = strconv.AppendUint(b, m[k], 10)
	}
	return append(b, '}')
}

// appendTime appends t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, quoted. A start time read from /proc is always within the
// years it accepts.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
