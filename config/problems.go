package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// parser decodes one config file into c. It collects problems instead of
// stopping at the first one, so a user fixes everything in one round.
type parser struct {
	file     string // as the caller gave it: messages quote it verbatim
	c        *Config
	problems []problem

	// Facts the cross-key checks in finish need, with the lines to blame.
	portsOK     bool // Ports is complete, so its length is meaningful
	dirBad      bool // `dir` is wrong, so command[0] cannot be looked for in it
	programLine int  // line of command[0]
	maxUnavail  *yaml.Node
	handoffSet  bool
	notifySet   bool
	socketLine  int // 0: Socket is the default
	backoffLine int
	maxBackLine int
	metricsPort int // -1 unless metrics.address names a port
	metricsLine int
}

// problem is one thing wrong with the file. msg starts with the key path
// when there is one: "ready.timeout: want a duration ...".
type problem struct {
	line int
	msg  string
}

// add records a problem at line under key path key ("" for none).
func (p *parser) add(line int, key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	// One problem, one line of output, whatever the user's values contain.
	msg = oneLine.Replace(msg)
	p.problems = append(p.problems, problem{line: max(line, 1), msg: msg})
}

var oneLine = strings.NewReplacer("\n", " ", "\r", " ")

// err returns every problem, in line order, as one joined error, or nil.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(p.problems, func(a, b problem) int {
		return cmp.Compare(a.line, b.line)
	})
	errs := make([]error, len(p.problems))
	for i, pr := range p.problems {
		errs[i] = fmt.Errorf("%s:%d: %s", p.file, pr.line, pr.msg)
	}
	return errors.Join(errs...)
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!bool", "!!int", "!!float":
			return short(n.Value)
		}
		return quote(n.Value)
	}
	return "an alias"
}

// quote is %q for a value from the file, cut short so that one bad value
// cannot drown the rest of the message.
func quote(s string) string { return fmt.Sprintf("%q", short(s)) }

func short(s string) string {
	const limit = 60
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "..."
}

// suggest returns the candidate closest to key when it is close enough to
// be a typo ("comand" for "command", "Ports" for "ports"), else "".
func suggest(key string, candidates []string) string {
	if len(key) > 64 {
		return ""
	}
	key = strings.ToLower(key)
	best, bestDist := "", 3
	for _, c := range candidates {
		d := distance(key, c)
		if d < bestDist && d <= max(1, len(c)/3) {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance: edits plus swaps of
// two neighbours, since "prot" for "port" is one slip, not two.
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
