package workflows

import (
	"errors"
	"sort"

	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
)

// exprCompiler compiles expressions with two expr configurations (for values and for
// conditions) built once per load. expr.Compile builds one per call, every built-in
// and function included, which cost more than compiling most expressions. The
// configurations cache types as they compile, so an exprCompiler is not safe for
// concurrent use: each load has its own.
type exprCompiler struct {
	value, cond *conf.Config
	page        *conf.Config // for paginate's expressions; built when first needed
}

func newExprCompiler() *exprCompiler {
	return &exprCompiler{value: newConfig(valueOptions), cond: newConfig(boolOptions)}
}

// newConfig prepares a configuration the way expr.Compile does.
func newConfig(ops []exprOption) *conf.Config {
	c := conf.CreateNew()
	for _, op := range ops {
		op(c)
	}
	for name := range c.Disabled {
		delete(c.Builtins, name)
	}
	c.Check()
	return c
}

func (x *exprCompiler) compile(src string, condition bool) (*vm.Program, error) {
	c := x.value
	if condition {
		c = x.cond
	}
	return x.compileWith(c, src)
}

// compilePage compiles an expression of a paginate block, over PageEnv.
func (x *exprCompiler) compilePage(src string) (*vm.Program, error) {
	if x.page == nil {
		x.page = newConfig(pageOptions)
	}
	return x.compileWith(x.page, src)
}

func (x *exprCompiler) compileWith(c *conf.Config, src string) (*vm.Program, error) {
	tree, err := checker.ParseCheck(src, c)
	if err != nil {
		return nil, err
	}
	if c.Optimize {
		if err := optimizer.Optimize(&tree.Node, c); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return compiler.Compile(tree, c)
}

// functionNames lists the functions an expression can call: expr's built-ins and
// hookflow's own.
func (x *exprCompiler) functionNames() []string {
	names := make([]string, 0, len(x.value.Builtins)+len(x.value.Functions))
	for name := range x.value.Builtins {
		names = append(names, name)
	}
	for name := range x.value.Functions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
