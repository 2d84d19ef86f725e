package hrsource

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a feed.
type Problem struct {
	// Where locates it: "hr.csv:12", "report.json: Report_Entry[41]",
	// "page 2: employees[3]", "query row 7", or the source itself.
	Where string `json:"where"`
	// Msg says what is wrong and what to do about it.
	Msg string `json:"msg"`
}

func (p Problem) String() string {
	if p.Where == "" {
		return p.Msg
	}
	return p.Where + ": " + p.Msg
}

// ValidationError is a feed refused because of the problems it lists. No
// record of a refused feed is used.
type ValidationError struct {
	// Source names the feed (a file path or a URL without secrets).
	Source   string    `json:"source"`
	Problems []Problem `json:"problems"`
	// Truncated is set when reading stopped at the configured hr.max_errors.
	Truncated bool `json:"truncated,omitempty"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	more := ""
	if e.Truncated {
		more = " (stopped there: hr.max_errors)"
	}
	if n == 1 {
		fmt.Fprintf(&b, "hr source %s refused: %s%s", e.Source, e.Problems[0], more)
		return b.String()
	}
	fmt.Fprintf(&b, "hr source %s refused: %d problems%s:", e.Source, n, more)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects the problems of one read, up to a limit.
type problems struct {
	list      []Problem
	max       int
	truncated bool
}

// add records a problem and reports whether reading should go on.
func (p *problems) add(where, format string, args ...any) bool {
	if p.full() {
		p.truncated = true
		return false
	}
	p.list = append(p.list, Problem{Where: where, Msg: fmt.Sprintf(format, args...)})
	return !p.full()
}

func (p *problems) full() bool { return p.max > 0 && len(p.list) >= p.max }

func (p *problems) err(source string) error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Source: source, Problems: p.list, Truncated: p.truncated || p.full()}
}
