package hrsource

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// activeExpr is the compiled hr.active expression.
type activeExpr struct {
	source  string
	program *vm.Program
	// names are the environment names the expression reads; whole is set
	// when it reads the environment as a whole ($env), which needs every
	// attribute.
	names []string
	whole bool
	// clock is set when it reads the time (now()): its outcome is then
	// not a function of the record's values alone.
	clock bool
}

// compileActive compiles the hr.active expression once. The columns are not
// known before the feed is read, so attributes are typed `any` except the
// multi-valued ones ([]string); the result must be a bool. A nil result
// means "everyone is active".
func compileActive(source string, multi map[string]string) (*activeExpr, error) {
	if strings.TrimSpace(source) == "" {
		return nil, nil
	}
	env := make(map[string]any, len(multi))
	for col := range multi {
		env[col] = []string(nil)
	}
	program, err := expr.Compile(source, expr.Env(env), expr.AllowUndefinedVariables(), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("hr.active: %w", err)
	}
	a := &activeExpr{source: source, program: program}
	a.names, a.whole = envNames(program.Node())
	var c nameCollector
	node := program.Node()
	ast.Walk(&node, &c)
	a.clock = c.clock
	return a, nil
}

// envNames lists the identifiers an expression reads from its environment,
// minus those that stand for a variable it declares itself with let. A let
// binds its name in its body only: `let status = lower(status); ...` reads
// the attribute status in its value.
func envNames(root ast.Node) (names []string, whole bool) {
	var c nameCollector
	ast.Walk(&root, &c)
	bound := letBound(c.declared)
	for _, id := range c.idents {
		n := id.Value
		if n == "$env" {
			whole = true
			continue
		}
		if !bound[id] && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, whole
}

type nameCollector struct {
	idents   []*ast.IdentifierNode
	declared []*ast.VariableDeclaratorNode
	clock    bool // now() is called
}

func (c *nameCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		c.clock = c.clock || n.Name == "now"
	case *ast.IdentifierNode:
		c.idents = append(c.idents, n)
	case *ast.VariableDeclaratorNode:
		c.declared = append(c.declared, n)
	}
}

// letBound returns the identifiers that stand for a variable of decls:
// those of a let's body (not of its value) that name it.
func letBound(decls []*ast.VariableDeclaratorNode) map[*ast.IdentifierNode]bool {
	bound := map[*ast.IdentifierNode]bool{}
	for _, d := range decls {
		ast.Walk(&d.Expr, boundMarker{name: d.Name, bound: bound})
	}
	return bound
}

// boundMarker marks the identifiers of a let's body that name its variable.
type boundMarker struct {
	name  string
	bound map[*ast.IdentifierNode]bool
}

func (b boundMarker) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && id.Value == b.name {
		b.bound[id] = true
	}
}

// evaluator runs the active expression over records of one schema, reusing
// one VM and, when the expression reads a few attributes only, one small
// environment map: building every record's full Env would cost a map of
// every column per record.
type evaluator struct {
	expr   *activeExpr
	schema *Schema
	vm     vm.VM
	env    map[string]any
	// cols are the schema columns the expression needs (nil: all).
	cols []int
	// results are the outcomes by the values of cols (see eval), when the
	// expression depends on nothing else; key is room for one key.
	results map[string]activeResult
	key     []byte
}

// activeResult is the outcome of the active expression for some values.
type activeResult struct {
	active bool
	err    error
}

// maxActiveResults bounds evaluator.results: an expression reading a
// value of every person's own (an e-mail) gains nothing from it.
const maxActiveResults = 4096

// newEvaluator prepares a for schema and reports the names the expression
// reads that are neither a column nor the first part of dotted columns.
func newEvaluator(a *activeExpr, s *Schema) (*evaluator, []string) {
	e := &evaluator{expr: a, schema: s}
	var unknown []string
	e.cols, unknown = s.EnvColumns(a.names)
	if a.whole {
		e.cols = nil
	} else {
		e.env = make(map[string]any, len(a.names))
		if !a.clock {
			// Its outcome is a function of the values it reads: a
			// status column has a handful among 100,000 records.
			e.results = map[string]activeResult{}
		}
	}
	return e, unknown
}

// eval reports whether r is active.
func (e *evaluator) eval(r *Record) (bool, error) {
	if e.results == nil {
		return e.run(r)
	}
	e.key = e.key[:0]
	for _, i := range e.cols {
		var v string
		if i < len(r.Values) {
			v = r.Values[i]
		}
		e.key = binary.AppendUvarint(e.key, uint64(len(v)))
		e.key = append(e.key, v...)
	}
	if res, ok := e.results[string(e.key)]; ok {
		return res.active, res.err
	}
	active, err := e.run(r)
	if len(e.results) < maxActiveResults {
		e.results[string(e.key)] = activeResult{active, err}
	}
	return active, err
}

// run evaluates the expression over r.
func (e *evaluator) run(r *Record) (bool, error) {
	env := e.env
	if env == nil {
		env = r.Env()
	} else {
		clear(env)
		r.fillEnv(env, e.cols)
	}
	out, err := e.vm.Run(e.expr.program, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("result is %T, not a bool", out)
	}
	return b, nil
}

// ExprNames lists the names an expr-lang expression reads from its
// environment (an attribute, or the first part of a nested path), sorted,
// minus those it declares with let; whole is set when it reads the
// environment as a whole ($env), which needs every attribute. Functions it
// calls may be listed too: a name that is no attribute reads nothing.
func ExprNames(source string) (names []string, whole bool, err error) {
	if strings.TrimSpace(source) == "" {
		return nil, false, nil
	}
	tree, err := parser.Parse(source)
	if err != nil {
		return nil, false, err
	}
	names, whole = envNames(tree.Node)
	return names, whole, nil
}

// ExprColumns lists the record columns an expr-lang expression reads,
// sorted: an attribute by its name, a value reached inside one by its
// dotted path (manager.email for `manager.email != ""`), and
// $env["Dept Name"] as Dept Name. Variables the expression declares (let;
// `let d = lower(d)` reads the attribute d in its value), functions it calls and indexes ([0]) are left out. A vendor connector
// that must be told which fields to return (BambooHR, SuccessFactors)
// asks for these.
func ExprColumns(source string) ([]string, error) {
	if strings.TrimSpace(source) == "" {
		return nil, nil
	}
	tree, err := parser.Parse(source)
	if err != nil {
		return nil, err
	}
	var v columnVisitor
	ast.Walk(&tree.Node, &v)
	covered := map[ast.Node]bool{}
	var chains [][]string
	var roots []*ast.IdentifierNode // of each chain
	// Outer members first: a.b.c covers a.b and a.
	for i := len(v.members) - 1; i >= 0; i-- {
		m := v.members[i]
		if covered[m] {
			continue
		}
		steps, inner := memberChain(m)
		for _, n := range inner {
			covered[n] = true
		}
		if v.callee[m] && len(steps) > 0 {
			steps = steps[:len(steps)-1] // obj.method(): the column is obj
		}
		if len(steps) > 0 {
			chains = append(chains, steps)
			roots = append(roots, inner[len(inner)-1].(*ast.IdentifierNode))
		}
	}
	for _, id := range v.idents {
		if !covered[id] && !v.callee[id] {
			chains = append(chains, []string{id.Value})
			roots = append(roots, id)
		}
	}
	bound := letBound(v.declared)
	var out []string
	for i, c := range chains {
		if c[0] == "$env" {
			c = c[1:]
		}
		if len(c) == 0 || bound[roots[i]] || c[0] == "#" {
			continue
		}
		out = append(out, strings.Join(c, "."))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// columnVisitor gathers the nodes ExprColumns looks at.
type columnVisitor struct {
	idents   []*ast.IdentifierNode
	members  []*ast.MemberNode
	callee   map[ast.Node]bool
	declared []*ast.VariableDeclaratorNode
}

func (c *columnVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		c.idents = append(c.idents, n)
	case *ast.MemberNode:
		c.members = append(c.members, n)
	case *ast.CallNode:
		if c.callee == nil {
			c.callee = map[ast.Node]bool{}
		}
		c.callee[n.Callee] = true
	case *ast.VariableDeclaratorNode:
		c.declared = append(c.declared, n)
	}
}

// memberChain returns the steps of a.b["c"] from its identifier on, cut
// at the first step that is not a constant name, and the nodes it covers
// (the identifier and the inner members). A chain not rooted at an
// identifier (a predicate's .field, a call's result) has no steps.
func memberChain(m *ast.MemberNode) (steps []string, inner []ast.Node) {
	var props []ast.Node
	var node ast.Node = m
	for {
		mm, ok := node.(*ast.MemberNode)
		if !ok {
			break
		}
		inner = append(inner, mm)
		props = append(props, mm.Property)
		node = mm.Node
	}
	id, ok := node.(*ast.IdentifierNode)
	if !ok {
		return nil, inner
	}
	inner = append(inner, id)
	steps = []string{id.Value}
	for i := len(props) - 1; i >= 0; i-- {
		s, ok := props[i].(*ast.StringNode)
		if !ok {
			break
		}
		steps = append(steps, s.Value)
	}
	return steps, inner
}
