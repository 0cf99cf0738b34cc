package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// report reads `go test -json` and writes what a person needs: each
// package's result, every skipped test with its reason, every failed test
// with its output, and with all the output of passing tests too. It
// returns an error if anything failed.
func report(in io.Reader, out io.Writer, all bool) error {
	type key struct{ pkg, test string }
	logs := map[key][]string{}
	failed := 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, sc.Text()) // not JSON: the go command's own words
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			if !strings.HasPrefix(e.Output, "=== ") {
				logs[k] = append(logs[k], e.Output)
			}
			if e.Action == "build-output" {
				fmt.Fprint(out, e.Output)
			}
		case "build-fail":
			failed++
		case "skip", "fail", "pass":
			if e.Test == "" { // the package
				if e.Action == "fail" {
					failed++
					for _, l := range logs[k] {
						fmt.Fprint(out, l)
					}
				}
				fmt.Fprintf(out, "%-4s %s %.1fs\n", map[string]string{"pass": "ok", "fail": "FAIL", "skip": "ok"}[e.Action], e.Package, e.Elapsed)
				continue
			}
			if e.Action == "skip" || e.Action == "fail" || all {
				for _, l := range logs[k] {
					fmt.Fprint(out, l)
				}
			}
			delete(logs, k)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d failed", failed)
	}
	return nil
}
