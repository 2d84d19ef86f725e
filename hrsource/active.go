package hrsource

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
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
	return a, nil
}

// envNames lists the identifiers an expression reads from its environment,
// minus those it declares itself with let.
func envNames(root ast.Node) (names []string, whole bool) {
	var c nameCollector
	ast.Walk(&root, &c)
	for _, n := range c.idents {
		if n == "$env" {
			whole = true
			continue
		}
		if !slices.Contains(c.declared, n) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, whole
}

type nameCollector struct {
	idents   []string
	declared []string
}

func (c *nameCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		c.idents = append(c.idents, n.Value)
	case *ast.VariableDeclaratorNode:
		c.declared = append(c.declared, n.Name)
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
}

// newEvaluator prepares a for schema and reports the names the expression
// reads that are neither a column nor the first part of dotted columns.
func newEvaluator(a *activeExpr, s *Schema) (*evaluator, []string) {
	e := &evaluator{expr: a, schema: s}
	var unknown []string
	for _, name := range a.names {
		found := false
		for i, col := range s.Columns {
			if col == name || (strings.HasPrefix(col, name) && len(col) > len(name) && col[len(name)] == '.') {
				e.cols = append(e.cols, i)
				found = true
			}
		}
		if !found {
			unknown = append(unknown, name)
		}
	}
	if a.whole {
		e.cols = nil
	} else {
		e.env = make(map[string]any, len(a.names))
	}
	return e, unknown
}

// eval reports whether r is active.
func (e *evaluator) eval(r *Record) (bool, error) {
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
