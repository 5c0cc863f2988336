package workflows

import "github.com/hashicorp/hcl/v2"

// repeatedWorkflows finds the workflow blocks of bodies (those of the files named
// names) that repeat the name of another, and returns where the definition each
// repeats is written. Of the blocks of one name, the one kept is, when reloading, the
// first written in the file where the workflow in use (inUse) is written: the
// others, in a file just added or changed, are the ones to report. Without one in
// use there, it is the first in file order (files are read in the order of their
// names), and the later ones are reported. decoded says which files' workflows are
// decoded at all.
func repeatedWorkflows(bodies []*hcl.BodyContent, names []string, inUse *Set, decoded func(file string) bool) map[*hcl.Block]hcl.Range {
	byName := map[string][]*hcl.Block{}
	var order []string
	for i, content := range bodies {
		if !decoded(names[i]) {
			continue
		}
		for _, b := range content.Blocks {
			if b.Type != "workflow" {
				continue
			}
			if len(byName[b.Labels[0]]) == 0 {
				order = append(order, b.Labels[0])
			}
			byName[b.Labels[0]] = append(byName[b.Labels[0]], b)
		}
	}
	repeats := map[*hcl.Block]hcl.Range{}
	for _, name := range order {
		blocks := byName[name]
		if len(blocks) < 2 {
			continue
		}
		kept := blocks[0]
		if wf := inUse.workflow(name); wf != nil {
			for _, b := range blocks {
				if b.DefRange.Filename == wf.DefRange.Filename {
					kept = b
					break
				}
			}
		}
		for _, b := range blocks {
			if b != kept {
				repeats[b] = kept.DefRange
			}
		}
	}
	return repeats
}

// workflow is s.Workflow(name), nil for a nil s.
func (s *Set) workflow(name string) *Workflow {
	if s == nil {
		return nil
	}
	return s.byName[name]
}
