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
	problems []problem // the first maxProblems by line, in line order
	more     int       // problems found beyond those
	moreLine int       // the first line of those

	readers map[string]reader // the table's, into c
	seen    map[string]entry  // the keys read, by dotted path
}

func newParser(file string, c *Config) *parser {
	p := &parser{file: file, c: c, readers: map[string]reader{}, seen: map[string]entry{}}
	for _, s := range settings(c) {
		p.readers[s.key] = s.read
	}
	return p
}

// problem is one thing wrong with the file. msg starts with the key path
// when there is one: "ready.timeout: want a duration ...".
type problem struct {
	line int
	msg  string
}

// maxProblems is how many problems an error lists; the ones after them
// are only counted. A file with a million unknown keys is one mistake
// (the wrong file, or a generated one), not a million to read.
const maxProblems = 20

// add records a problem at line under key path key ("" for none).
func (p *parser) add(line int, key, format string, args ...any) {
	line = max(line, 1)
	if !p.listed(line) {
		p.count(line)
		return
	}
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	// One problem, one line of output, whatever the user's values contain.
	msg = oneLine.Replace(msg)
	// After every problem on the same line or before it: line order, and
	// file order within a line.
	i, _ := slices.BinarySearchFunc(p.problems, line+1, func(pr problem, l int) int { return cmp.Compare(pr.line, l) })
	p.problems = slices.Insert(p.problems, i, problem{line: line, msg: msg})
	if len(p.problems) > maxProblems {
		p.count(p.problems[maxProblems].line)
		p.problems = p.problems[:maxProblems]
	}
}

// listed reports whether a problem at line would be among the ones an
// error lists, so that a caller can skip working out a hint for nothing.
func (p *parser) listed(line int) bool {
	return len(p.problems) < maxProblems || line < p.problems[len(p.problems)-1].line
}

// found counts the problems so far, listed or not.
func (p *parser) found() int { return len(p.problems) + p.more }

// count records a problem that is not listed.
func (p *parser) count(line int) {
	if p.more == 0 || line < p.moreLine {
		p.moreLine = line
	}
	p.more++
}

var oneLine = strings.NewReplacer("\n", " ", "\r", " ")

// err returns the problems, in line order, as one joined error, or nil:
// the first maxProblems, then one line that counts the rest.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	errs := make([]error, 0, len(p.problems)+1)
	for _, pr := range p.problems {
		errs = append(errs, fmt.Errorf("%s:%d: %s", p.file, pr.line, pr.msg))
	}
	if p.more > 0 {
		s := "s"
		if p.more == 1 {
			s = ""
		}
		errs = append(errs, fmt.Errorf("%s:%d: ... and %d more problem%s", p.file, p.moreLine, p.more, s))
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
	n := utf8.RuneCountInString(key)
	best, bestDist := "", 3
	for _, c := range candidates {
		limit := min(bestDist-1, max(1, len(c)/3))
		if abs(n-len(c)) > limit {
			continue // at least that many insertions or deletions
		}
		if d := distance(key, c); d <= limit {
			best, bestDist = c, d
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// distance is the optimal string alignment distance: edits plus swaps of
// two neighbours, since "prot" for "port" is one slip, not two.
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	prev2, prev, cur := make([]int, len(t)+1), make([]int, len(t)+1), make([]int, len(t)+1)
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
