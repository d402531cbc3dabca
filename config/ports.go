package config

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxPorts bounds the instances of one config: a slip like "8001-80040"
// should be an error, not 72,000 processes.
const maxPorts = 1024

// span is one item of `ports`: a port (lo == hi) or an inclusive range.
type span struct {
	lo, hi int
	line   int
}

func (s span) String() string {
	if s.lo == s.hi {
		return strconv.Itoa(s.lo)
	}
	return fmt.Sprintf("%d-%d", s.lo, s.hi)
}

func (s span) size() int { return s.hi - s.lo + 1 }

// ports reads `ports`: a list of ports and "A-B" ranges, or one of them
// alone, into the ports expanded and sorted, only if every item is good.
func (p *parser) ports(key string, v *yaml.Node) ([]int, bool) {
	n := deref(v)
	items := n.Content
	switch {
	case isNull(n):
		p.add(v.Line, key, noPorts)
		return nil, false
	case n.Kind == yaml.ScalarNode:
		items = []*yaml.Node{v}
	case n.Kind != yaml.SequenceNode:
		p.add(v.Line, key, `want a list like [8001, "8002-8004"], got %s`, describe(n))
		return nil, false
	case len(items) == 0:
		p.add(v.Line, key, "empty list; list at least one port, e.g. ports: [8001]")
		return nil, false
	}
	before := p.found()
	spans := make([]span, 0, len(items))
	for _, item := range items {
		s, msg := parseSpan(deref(item))
		if msg != "" {
			p.add(item.Line, key, "%s", msg)
			continue
		}
		s.line = item.Line
		spans = append(spans, s)
	}
	ports := p.expand(spans)
	return ports, p.found() == before
}

var spanRE = regexp.MustCompile(`^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$`)

// parseSpan reads one item, returning what is wrong with it if anything.
func parseSpan(n *yaml.Node) (span, string) {
	var i int64 // yaml.v3 also reads 0x1F41 and 8_001
	switch tag := n.ShortTag(); {
	case n.Kind == yaml.ScalarNode && tag == "!!int" && n.Decode(&i) == nil:
		port := strconv.FormatInt(i, 10)
		return checkSpan(port, port)
	case n.Kind != yaml.ScalarNode || slices.Contains([]string{"!!null", "!!float", "!!bool", "!!int"}, tag):
		return span{}, fmt.Sprintf(`want a port like 8001 or a range like "8001-8004", got %s`, describe(n))
	}
	m := spanRE.FindStringSubmatch(n.Value)
	if m == nil {
		return span{}, fmt.Sprintf(`%s is not a port or a range like "8001-8004"`, quote(n.Value))
	}
	return checkSpan(m[1], cmp.Or(m[2], m[1]))
}

// checkSpan checks the two ends of a span, given as digits.
func checkSpan(lo, hi string) (span, string) {
	port := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && n <= 65535
	}
	a, okA := port(lo)
	b, okB := port(hi)
	prefix := ""
	if lo != hi {
		prefix = fmt.Sprintf("%q: ", lo+"-"+hi)
	}
	switch {
	case !okA:
		return span{}, fmt.Sprintf("%s%s is out of range 1-65535", prefix, short(lo))
	case !okB:
		return span{}, fmt.Sprintf("%s%s is out of range 1-65535", prefix, short(hi))
	case a > b:
		return span{}, fmt.Sprintf(`range "%d-%d" is backwards; write "%d-%d"`, a, b, b, a)
	}
	return span{lo: a, hi: b}, ""
}

// expand checks the spans against each other, for ports listed twice and
// for too many in all, and returns their ports, sorted. Spans are compared
// as intervals: a port-by-port map would make "1-65535" listed a thousand
// times cost a billion steps.
func (p *parser) expand(spans []span) []int {
	var kept []span
	total := 0
	for _, s := range spans {
		if i := slices.IndexFunc(kept, func(k span) bool { return k.lo <= s.hi && s.lo <= k.hi }); i >= 0 {
			p.add(s.line, "ports", "%s", clash(s, kept[i]))
			continue
		}
		kept = append(kept, s)
		total += s.size()
		if total > maxPorts {
			size := "is"
			if len(kept) > 1 {
				size = "brings the total to"
			}
			p.add(s.line, "ports", "%q %s %d ports; at most %d are allowed", s.String(), size, total, maxPorts)
			return nil
		}
	}
	ports := make([]int, 0, total)
	for _, s := range kept {
		for port := s.lo; port <= s.hi; port++ {
			ports = append(ports, port)
		}
	}
	slices.Sort(ports)
	return ports
}

// clash says how s repeats a port of prev, an earlier item.
func clash(s, prev span) string {
	switch {
	case s.lo == s.hi && prev.lo == prev.hi:
		return fmt.Sprintf("%d listed twice (first on line %d)", s.lo, prev.line)
	case s.lo == s.hi:
		return fmt.Sprintf("%d listed twice (first on line %d, in %q)", s.lo, prev.line, prev.String())
	case prev.lo == prev.hi:
		return fmt.Sprintf("%q includes %d, already listed on line %d", s.String(), prev.lo, prev.line)
	}
	return fmt.Sprintf("%q overlaps %q on line %d", s.String(), prev.String(), prev.line)
}

// PortList writes ports as "8001, 8002".
func PortList(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// CheckNamed refuses ports named for an operation (hellomgr stop 8001
// 8002) that name one twice, which would replace it twice at once, or one
// that c does not list; where names c in the message (its file, or "the
// running config").
func (c *Config) CheckNamed(ports []int, where string) error {
	for i, port := range ports {
		switch {
		case slices.Contains(ports[:i], port):
			return fmt.Errorf("port %d is named twice; name each port once", port)
		case !slices.Contains(c.Ports, port):
			return fmt.Errorf("port %d is not in %s (configured: %s)", port, where, PortList(c.Ports))
		}
	}
	return nil
}
