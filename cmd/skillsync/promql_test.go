package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// promqlMetrics returns the metric names a PromQL expression (or a
// Grafana query, with its $variables) selects, sorted, without duplicates.
// It knows PromQL's lexical shapes, not its grammar: label matchers,
// ranges and strings are skipped; an identifier is a metric name unless it
// is a keyword, an aggregation, a function (followed by "(") or a label
// list of by/without/on/ignoring/group_left/group_right.
func promqlMetrics(expr string) ([]string, error) {
	var names []string
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{' || c == '[':
			end, err := skipGroup(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				end, err := skipGroup(s, i)
				if err != nil {
					return nil, err
				}
				i = end
				continue
			}
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
			word := s[start:i]
			next := i
			for next < len(s) && (s[next] == ' ' || s[next] == '\t' || s[next] == '\n') {
				next++
			}
			lower := strings.ToLower(word)
			switch {
			case slices.Contains(groupingWords, lower):
				// by (le, endpoint): label names, not metrics.
				if next < len(s) && s[next] == '(' {
					end, err := skipGroup(s, next)
					if err != nil {
						return nil, err
					}
					i = end
				}
			case slices.Contains(promqlWords, lower) || slices.Contains(aggregations, lower):
			case next < len(s) && s[next] == '(':
				// A function call.
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

var (
	groupingWords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	promqlWords   = []string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
	aggregations  = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// skipString returns the index after the string literal that starts at i.
func skipString(s string, i int) (int, error) {
	quote := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && quote != '`':
			j++
		case s[j] == quote:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d in %q", i, s)
}

// skipGroup returns the index after the bracket group that starts at i,
// strings and nested groups included.
func skipGroup(s string, i int) (int, error) {
	closing := map[byte]byte{'{': '}', '[': ']', '(': ')'}
	var stack []byte
	for j := i; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case closing[c] != 0:
			stack = append(stack, closing[c])
		case len(stack) > 0 && c == stack[len(stack)-1]:
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced %q at %d in %q", s[i], i, s)
}

func TestPromQLMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job="skillsync"} == 0`, []string{"up"}},
		{`min(time() - skillsync_last_success_timestamp_seconds) > 3 * 3600`, []string{"skillsync_last_success_timestamp_seconds"}},
		{`increase(skillsync_runs_total{outcome=~"failed|partial"}[3h]) >= 2`, []string{"skillsync_runs_total"}},
		{`sum by (status) (rate(a_total{job=~"$job", x="}{"}[$__rate_interval]))`, []string{"a_total"}},
		{`histogram_quantile(0.95, sum by (endpoint, method, le) (rate(b_bucket[5m])))`, []string{"b_bucket"}},
		{`sum(rate(c_sum[6h])) / sum without (mode) (rate(c_count[6h]))`, []string{"c_count", "c_sum"}},
		{`time() - d and d > 0`, []string{"d"}},
		{`e / ignoring(mode) group_left(version) f offset 5m`, []string{"e", "f"}},
		{`max(g{a='it\'s}'} @ 1e9) or vector(0)`, []string{"g"}},
		{`${datasource} + i[1h:5m]`, []string{"i"}},
		{`1.5e3 + 0x1f + j`, []string{"j"}},
	}
	for _, tt := range tests {
		got, err := promqlMetrics(tt.expr)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("promqlMetrics(%s) = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
	for _, bad := range []string{`sum(a{b="c}`, `a{b="c"`, `rate(a[5m)`} {
		if _, err := promqlMetrics(bad); err == nil {
			t.Errorf("promqlMetrics(%s): no error", bad)
		}
	}
}
