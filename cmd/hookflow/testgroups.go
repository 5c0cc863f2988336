package main

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// Which tests hookflow test runs against which workflows: the PATHs it is given as
// groups, each a directory's workflows and the test files run against them.

// testGroup is the tests of one directory, run against its workflows.
type testGroup struct {
	dir   string
	tests []workflows.Source // the test files
}

// testGroups resolves the paths into groups: a directory, a test file, or DIR/...
func testGroups(paths []string) ([]testGroup, error) {
	var groups []testGroup
	for _, p := range paths {
		root, all := strings.CutSuffix(p, "...")
		if err := checkPaths("", filepath.Clean(root)); err != nil {
			return nil, err
		}
		if all {
			sets, err := testSets(p, filepath.Clean(root))
			if err != nil {
				return nil, err
			}
			groups = append(groups, sets...)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, usage("%v", err)
		}
		dir := p
		if !info.IsDir() {
			if !workflows.IsTestFile(p) {
				return nil, usage("%s is not a test file: their names end in %s", p, workflows.TestSuffix)
			}
			dir = filepath.Dir(p)
		}
		srcs, diags := workflows.ReadTests(p)
		if diags.HasErrors() {
			return nil, usage("%s: %s", p, diags[0].Detail)
		}
		groups = append(groups, testGroup{dir: dir, tests: srcs})
	}
	return mergeGroups(groups), nil
}

// mergeGroups makes the groups of one directory one group, with each of their test
// files once, as go test tests a package named twice once: hookflow test flows flows,
// or a directory and a test file in it, or DIR/... and a set in it, runs each test
// once.
func mergeGroups(groups []testGroup) []testGroup {
	var out []testGroup
	at := map[string]int{}       // by the directory's path
	seen := map[[2]string]bool{} // the directory of a group and a test file of it
	for _, g := range groups {
		dir := samePath(g.dir)
		i, ok := at[dir]
		if !ok {
			i = len(out)
			at[dir] = i
			out = append(out, testGroup{dir: g.dir})
		}
		for _, s := range g.tests {
			key := [2]string{dir, samePath(s.Name)}
			if seen[key] {
				continue
			}
			seen[key] = true
			out[i].tests = append(out[i].tests, s)
		}
	}
	for _, g := range out {
		slices.SortStableFunc(g.tests, func(a, b workflows.Source) int { return strings.Compare(samePath(a.Name), samePath(b.Name)) })
	}
	return out
}

// samePath is a path as two that name the same file or directory write it alike:
// absolute and clean.
func samePath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// testSets resolves DIR/... (p, with root its DIR) into the sets of workflows under
// root that hold tests, each with the test files inside it. A set is a directory
// that holds workflow files when none of the directories above it, up to root
// included, does: it is loaded with its subdirectories, as serve would load it, and
// its tests are those of its subdirectories too. Sets beside each other are tested
// on their own, so their workflows' names may clash (examples/...). A test file in
// no set is tested with the workflows of its directory, as when it is named alone.
func testSets(p, root string) ([]testGroup, error) {
	tests, diags := workflows.ReadTests(root)
	if diags.HasErrors() {
		return nil, usage("%s: %s", p, diags[0].Detail)
	}
	sets := findWorkflowSets(root)
	byDir := map[string][]workflows.Source{}
	var dirs []string
	for _, s := range tests {
		d := sets.of(filepath.Dir(s.Name))
		if byDir[d] == nil {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], s)
	}
	sort.Strings(dirs)
	groups := make([]testGroup, 0, len(dirs))
	for _, d := range dirs {
		groups = append(groups, testGroup{dir: d, tests: byDir[d]})
	}
	return groups, nil
}

// workflowSets are the sets of workflows under a directory, root, as DIR/... names
// them: a set is a directory that holds workflow files when none of the directories
// above it, up to root included, does; it is loaded with its subdirectories, as
// serve would load it.
type workflowSets struct {
	root  string
	holds map[string]bool // the directories that hold workflow files
}

func findWorkflowSets(root string) workflowSets {
	wfs, _ := workflows.ReadDir(root) // its problems are the sets' to report, when they load
	s := workflowSets{root: root, holds: map[string]bool{}}
	for _, src := range wfs {
		s.holds[filepath.Dir(src.Name)] = true
	}
	return s
}

// of is the set a directory under root is in: the highest directory from root down
// to it that holds workflow files; the directory itself when there is none.
func (s workflowSets) of(dir string) string {
	set := dir
	for d := dir; ; d = filepath.Dir(d) {
		if s.holds[d] {
			set = d
		}
		if d == s.root || filepath.Dir(d) == d {
			return set
		}
	}
}

// dirs are the sets, in order; root alone when it holds no workflow file at all, so
// that what reads it says so.
func (s workflowSets) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for d := range s.holds {
		if set := s.of(d); !seen[set] {
			seen[set] = true
			out = append(out, set)
		}
	}
	if len(out) == 0 {
		return []string{s.root}
	}
	sort.Strings(out)
	return out
}
