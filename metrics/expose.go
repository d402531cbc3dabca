package metrics

import (
	"strconv"
	"strings"
	"sync"
)

// textContentType is the Prometheus text format, version 0.0.4, which
// promhttp also serves unless asked for OpenMetrics.
const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// exposition writes the Prometheus text format by hand: what promhttp
// writes for a registry, with families in the same order (by name) and
// samples in the same order (by label value), but without building a
// registry, protobuf messages and a channel per scrape. It is for series
// whose names and help texts are constants of this package; label values
// are escaped.
type exposition struct {
	b []byte
}

var expositions = sync.Pool{New: func() any { return &exposition{b: make([]byte, 0, 4096)} }}

// family starts a metric family: its HELP and TYPE lines.
func (e *exposition) family(name, help, typ string) {
	e.b = append(e.b, "# HELP "...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = appendEscaped(e.b, help, false)
	e.b = append(e.b, "\n# TYPE "...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, typ...)
	e.b = append(e.b, '\n')
}

// sample writes one sample without labels.
func (e *exposition) sample(name string, v float64) {
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = appendFloat(e.b, v)
	e.b = append(e.b, '\n')
}

// labelled writes one sample with one label.
func (e *exposition) labelled(name, label, value string, v float64) {
	e.b = append(e.b, name...)
	e.b = append(e.b, '{')
	e.b = append(e.b, label...)
	e.b = append(e.b, `="`...)
	e.b = appendEscaped(e.b, value, true)
	e.b = append(e.b, `"} `...)
	e.b = appendFloat(e.b, v)
	e.b = append(e.b, '\n')
}

// suffixed writes one sample without labels of a summary or a histogram:
// name+"_sum" or name+"_count".
func (e *exposition) suffixed(name, suffix string, v float64) {
	e.b = append(e.b, name...)
	e.b = append(e.b, suffix...)
	e.b = append(e.b, ' ')
	e.b = appendFloat(e.b, v)
	e.b = append(e.b, '\n')
}

// bound writes one sample of a summary's quantile or a histogram's
// bucket: name+suffix{label="at"} v, the label value a number.
func (e *exposition) bound(name, suffix, label string, at, v float64) {
	e.b = append(e.b, name...)
	e.b = append(e.b, suffix...)
	e.b = append(e.b, '{')
	e.b = append(e.b, label...)
	e.b = append(e.b, `="`...)
	e.b = appendFloat(e.b, at)
	e.b = append(e.b, `"} `...)
	e.b = appendFloat(e.b, v)
	e.b = append(e.b, '\n')
}

// one writes a family of a single sample without labels.
func (e *exposition) one(name, help, typ string, v float64) {
	e.family(name, help, typ)
	e.sample(name, v)
}

// appendFloat formats v as the text format's writer does: the shortest
// decimal that reads back as v, "+Inf", "-Inf" or "NaN".
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes a help text (backslash, newline) or a label
// value (also the double quote), as the text format wants.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
