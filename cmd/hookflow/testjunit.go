package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// junitSuite is one directory's tests, as JUnit XML reports them to CI systems.
type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"` // an interrupted test: not run
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// junitGroup is what a directory's tests gave, for the report.
type junitGroup struct {
	dir     string
	invalid string // its files' diagnostics, as printed, when they did not load; else ""
	results []*testResult
}

// writeJUnit writes the JUnit XML report of the groups' tests to w.
func writeJUnit(w io.Writer, groups []junitGroup) error {
	type suites struct {
		XMLName xml.Name     `xml:"testsuites"`
		Suites  []junitSuite `xml:"testsuite"`
	}
	var doc suites
	for _, g := range groups {
		s := junitSuite{Name: g.dir}
		var total float64
		if g.invalid != "" {
			s.Tests, s.Errors = 1, 1
			s.Cases = append(s.Cases, junitCase{Name: "load", ClassName: g.dir, Time: "0",
				Error: &junitMessage{Message: "the workflow or test files are invalid", Text: g.invalid}})
		}
		for _, r := range g.results {
			s.Tests++
			total += r.took.Seconds()
			c := junitCase{Name: r.test.Name, ClassName: g.dir, File: r.test.DefRange.Filename,
				Line: r.test.DefRange.Start.Line, Time: fmt.Sprintf("%.3f", r.took.Seconds())}
			switch {
			case r.interrupted:
				s.Skipped++
				c.Skipped = &junitMessage{Message: notRun + " (SIGINT or SIGTERM)"}
			case r.failed():
				s.Failures++
				var b strings.Builder
				r.print(&b, false)
				c.Failure = &junitMessage{Message: fmt.Sprintf("%d expectation%s failed", len(r.failures), plural(len(r.failures))), Text: b.String()}
			}
			s.Cases = append(s.Cases, c)
		}
		s.Time = fmt.Sprintf("%.3f", total)
		doc.Suites = append(doc.Suites, s)
	}
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	data = append([]byte(xml.Header), append(data, '\n')...)
	_, err = w.Write(data)
	return err
}
