package workflows

import (
	"regexp"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// A trigger or step whose decoding found errors still goes to its kind's constructor,
// so that one load reports what the kind finds as well (a url that is not http, a
// webhook path without its /) beside the errors of the block's other attributes.
// What the constructor cannot see is given a stand-in: each attribute of the kind
// that did not evaluate or compile, that is misspelt, or that is required and not
// written reads as a placeholder, as a variable that is not set does under validate.
// A placeholder passes for whatever was meant, and what the constructor says of it,
// or at the block's header where a missing attribute points, is dropped: the error
// already reported is the one to fix. So are the constructor's warnings, which may
// follow from a stand-in; the load after the fix gives them.

// apiKnown reports whether the api a block calls, if any, is known: apiDiags are
// apiRef's. A kind checks a block that calls an api against it (its url is relative),
// so a block whose api attribute failed or names no api block is not given to its
// kind's constructor.
func (l *loader) apiKnown(blk *Block, apiDiags hcl.Diagnostics) bool {
	return !apiDiags.HasErrors() && !slices.ContainsFunc(blk.failed, func(a *hcl.Attribute) bool { return a.Name == "api" })
}

// standIns is what stands in for a block's attributes: the ranges at which the
// constructor's diagnostics are dropped.
type standIns []hcl.Range

// didYouMean finds the suggestion in HCL's "Unsupported argument" detail.
var didYouMean = regexp.MustCompile(`Did you mean "([A-Za-z0-9_]+)"\?`)

// standIn gives blk a placeholder for each attribute of the kind (attrs) that failed,
// is misspelt or is missing, as decodeDiags, the diagnostics of decoding the block's
// body, and blk.failed tell.
func (l *loader) standIn(blk *Block, attrs []Attr, decodeDiags hcl.Diagnostics) standIns {
	var out standIns
	add := func(name string, at hcl.Range) {
		if blk.attrs[name] != nil || !slices.ContainsFunc(attrs, func(a Attr) bool { return a.Name == name }) {
			return
		}
		loc := location{rng: at, exprs: l.exprs}
		if f := l.files[at.Filename]; f != nil {
			loc.src = f.Bytes
		}
		t, _ := compileTemplate(placeholderValue(name), loc)
		blk.attrs[name] = &BlockAttr{Name: name, Template: t, Range: at, ValueRange: at, loc: loc}
		out = append(out, at)
	}
	for _, a := range blk.failed {
		add(a.Name, a.Range)
	}
	for _, d := range decodeDiags {
		if d.Summary != "Unsupported argument" || d.Subject == nil {
			continue
		}
		if m := didYouMean.FindStringSubmatch(d.Detail); m != nil {
			add(m[1], *d.Subject)
		}
	}
	for _, a := range attrs {
		if a.Required {
			add(a.Name, blk.DefRange)
		}
	}
	return out
}

// drop returns diags without the warnings, when there are stand-ins, and without the
// errors that point within one.
func (s standIns) drop(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(s) == 0 {
		return diags
	}
	out := diags[:0:0]
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Subject != nil && s.holds(*d.Subject) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func (s standIns) holds(r hcl.Range) bool {
	for _, p := range s {
		if p.Filename == r.Filename && p.Start.Byte <= r.Start.Byte && r.End.Byte <= p.End.Byte {
			return true
		}
	}
	return false
}
