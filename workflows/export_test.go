package workflows

// KindAttrs lists, for the tests of package workflows_test, the attributes of each
// step and trigger kind registered, by kind; a kind that takes any attribute is left
// out.
func (k *Kinds) KindAttrs() (steps, triggers map[string][]Attr) {
	steps, triggers = map[string][]Attr{}, map[string][]Attr{}
	for name, s := range k.steps {
		if !s.AnyAttrs {
			steps[name] = s.Attrs
		}
	}
	for name, t := range k.triggers {
		triggers[name] = t.Attrs
	}
	return steps, triggers
}
