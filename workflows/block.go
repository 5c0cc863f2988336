package workflows

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// Block is a trigger or step block as its kind's constructor sees it: the kind's own
// attributes, evaluated at load time and compiled into templates.
type Block struct {
	Kind     string
	Name     string // the step's name; empty for a trigger
	DefRange hcl.Range
	attrs    map[string]*BlockAttr
}

// BlockAttr is one attribute of a Block.
type BlockAttr struct {
	Name       string
	Template   *Template
	Range      hcl.Range // the whole attribute: name = value
	ValueRange hcl.Range // the value alone
}

// Attr returns the named attribute, or nil when the block does not set it.
func (b *Block) Attr(name string) *BlockAttr { return b.attrs[name] }

// Template returns the named attribute's template, or nil when the block does not set it.
func (b *Block) Template(name string) *Template {
	if a := b.attrs[name]; a != nil {
		return a.Template
	}
	return nil
}

// ConstString returns an attribute that must be a string fixed at load time (no
// {{ }}), or def when the block does not set it.
func (b *Block) ConstString(name, def string) (string, hcl.Diagnostics) {
	a := b.attrs[name]
	if a == nil {
		return def, nil
	}
	v, ok := a.Template.Const()
	if !ok {
		return "", hcl.Diagnostics{a.Error(fmt.Sprintf("%s cannot use {{ }}", name),
			fmt.Sprintf("The %s is fixed when the file loads; it cannot depend on the event.", name))}
	}
	s, ok := v.(string)
	if !ok {
		return "", hcl.Diagnostics{a.Error(fmt.Sprintf("%s must be a string", name),
			fmt.Sprintf("Got %s. Put the value in double quotes.", typeName(v)))}
	}
	return s, nil
}

// Error returns an error diagnostic pointing at the attribute's value.
func (a *BlockAttr) Error(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.ValueRange.Ptr()}
}
