package workflows

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser/lexer"
)

// The expressions of GitHub Actions read much like expr's, but for a few forms expr
// reports as a bare syntax error: contains(a, b) and its kin called as functions,
// where expr writes them as operators, and the object filter list.*.name. These say
// what to write instead.

// wordOperators are expr's operators written as words, which GitHub Actions calls as
// functions: contains(a, b).
var wordOperators = []string{"contains", "startsWith", "endsWith", "matches"}

// operatorCall explains fe when it is the error of a word operator called as a
// function. It returns the byte range of the call in src, and ok false for any other
// error.
func operatorCall(src string, fe *file.Error) (detail string, from, to int, ok bool) {
	if fe == nil {
		return "", 0, 0, false
	}
	tokens, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return "", 0, 0, false
	}
	for i := 0; i+1 < len(tokens); i++ {
		op := tokens[i]
		if op.From != fe.From || op.Kind != lexer.Operator || !tokens[i+1].Is(lexer.Bracket, "(") || !isWordOperator(op.Value) {
			continue
		}
		args, end := callArguments(src, tokens, i+1)
		return operatorDetail(op.Value, args), runeToByte(src, op.From), end, true
	}
	return "", 0, 0, false
}

// operatorDetail says how to write the call of op with args.
func operatorDetail(op string, args []string) string {
	detail := fmt.Sprintf("In expressions, %s is an operator written between its two sides, not a function: ", op)
	if len(args) != 2 {
		return detail + fmt.Sprintf("a %s b.", op)
	}
	if op != "contains" {
		return detail + fmt.Sprintf("%s %s %s.", args[0], op, args[1])
	}
	if list := splatToMap(args[0]); list != args[0] {
		return detail + fmt.Sprintf("a contains 'x' for a string. For a list, write x in list: %s in %s, where %s is the list of the items' %s.",
			args[1], list, list, splatField(args[0]))
	}
	return detail + fmt.Sprintf("%s contains %s for a string. For a list, write x in list: %s in %s (or any(%s, # == %s)).",
		args[0], args[1], args[1], args[0], args[0], args[1])
}

func isWordOperator(s string) bool {
	for _, w := range wordOperators {
		if s == w {
			return true
		}
	}
	return false
}

// callArguments returns the arguments, as written, of the call whose ( is
// tokens[open], and the byte offset in src just past its closing bracket (or src's
// end, when it is not closed).
func callArguments(src string, tokens []lexer.Token, open int) ([]string, int) {
	var args []string
	depth, start := 0, runeToByte(src, tokens[open].To)
	for _, t := range tokens[open:] {
		switch {
		case t.Is(lexer.Bracket, "(", "[", "{"):
			depth++
		case t.Is(lexer.Bracket, ")", "]", "}"):
			depth--
			if depth == 0 {
				end := runeToByte(src, t.From)
				if a := strings.TrimSpace(src[start:end]); a != "" {
					args = append(args, a)
				}
				return args, runeToByte(src, t.To)
			}
		case depth == 1 && t.Is(lexer.Operator, ","):
			at := runeToByte(src, t.From)
			args = append(args, strings.TrimSpace(src[start:at]))
			start = runeToByte(src, t.To)
		}
	}
	return args, len(src)
}

// splatToMap writes GitHub Actions' object filter, list.*.field, as expr maps a list:
// map(list, .field). Anything else is returned as it is.
func splatToMap(s string) string {
	list, field, ok := strings.Cut(s, ".*.")
	if !ok || list == "" || field == "" {
		return s
	}
	return fmt.Sprintf("map(%s, .%s)", list, field)
}

// splatField is the field list.*.field reads of each item.
func splatField(s string) string {
	_, field, _ := strings.Cut(s, ".*.")
	return field
}

// objectFilter explains fe when it is the error of an object filter, list.*.name:
// expr expects a field's name after the dot and meets *. It returns the byte range of
// the filter in src, and ok false for any other error.
func objectFilter(src string, fe *file.Error) (detail string, from, to int, ok bool) {
	if fe == nil || !strings.HasPrefix(fe.Message, "expected name") {
		return "", 0, 0, false
	}
	star := runeToByte(src, fe.From) // expr marks the * or the . after it
	if star < len(src) && src[star] != '*' {
		star--
	}
	if star < 1 || star >= len(src) || src[star] != '*' || src[star-1] != '.' {
		return "", 0, 0, false
	}
	from = star - 1
	for from > 0 && isPathByte(src[from-1]) {
		from--
	}
	to = star + 1
	if to < len(src) && src[to] == '.' {
		to++
		for to < len(src) && isNameByte(src[to]) {
			to++
		}
	}
	written := src[from:to]
	list, field := src[from:star-1], splatField(written)
	if list == "" || field == "" {
		return "", 0, 0, false
	}
	mapped := splatToMap(written)
	detail = fmt.Sprintf("%s is how GitHub Actions lists a field of every item; expressions map the list instead: "+
		"%s is the list of the items' %s. To test for one value, write 'x' in %s, or any(%s, .%s == 'x').",
		written, mapped, field, mapped, list, field)
	return detail, from, to, true
}

func isNameByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isPathByte reports whether c may be part of a path such as event.body['a'][0]?.b.
func isPathByte(c byte) bool {
	return isNameByte(c) || strings.IndexByte(".?[]'\"", c) >= 0
}

// githubNames are GitHub Actions' names an expression may read out of habit, and what
// each is there.
var githubNames = map[string]string{"github": "its context", "secrets": "its secrets", "env": "its environment variables"}

// githubRead says what to write in place of a read of name, when it is one of
// GitHub Actions' names, in src, an expression written without ${{ }}: in a {{ }}
// when template, else bare, as a condition is, in the attribute attr. It is what the
// ${{ … }} form of the read is told (githubExpression.instead), after a space; ""
// for another name.
func githubRead(name, src string, template bool, attr string) string {
	what, ok := githubNames[name]
	if !ok {
		return ""
	}
	gh := githubExpression{inner: strings.TrimSpace(src), attr: attr, bare: !template}
	return fmt.Sprintf(" It is GitHub Actions' name for %s.%s", what, gh.instead())
}
