// Command perfreport turns the output of interleaved benchmark rounds (go
// test -bench, one sample per benchmark per round, any number of files) into
// the figures of docs/performance.md: for every benchmark the median and
// the fastest ns/op, B/op and allocs/op; for every target of issue 11 the
// ratio, the allocation difference and the verdict. It reads the rows of
// the root module's BenchmarkAuthorizeShape, BenchmarkTokenShape and
// BenchmarkFlow and of bench's BenchmarkFlow; rows it does not know are
// listed only.
//
//	perfreport root.txt bench.txt > figures.md
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sample is one benchmark line.
type sample struct{ ns, bytes, allocs float64 }

// stats are the samples of one benchmark.
type stats struct {
	ns, bytes, allocs []float64
}

func (s *stats) med() float64     { return median(s.ns) }
func (s *stats) fastest() float64 { return slices.Min(s.ns) }

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op)?(?:\s+([\d.]+) allocs/op)?`)

func main() {
	all := map[string]*stats{}
	var names []string
	pkg := ""
	for _, file := range os.Args[1:] {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "perfreport:", err)
			os.Exit(1)
		}
		read(f, all, &names, &pkg)
		f.Close()
	}
	if len(names) == 0 {
		fmt.Fprintln(os.Stderr, "perfreport: no benchmark lines")
		os.Exit(1)
	}
	write(os.Stdout, all, names)
}

// read adds the benchmark lines of r to all, each name prefixed with the
// package's last path element when it is not the root module's.
func read(r io.Reader, all map[string]*stats, names *[]string, pkg *string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		t := sc.Text()
		if p, ok := strings.CutPrefix(t, "pkg: "); ok {
			*pkg = ""
			if p != "github.com/go-pkce/pkce" {
				*pkg = p[strings.LastIndexByte(p, '/')+1:] + "."
			}
			continue
		}
		m := line.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		name := *pkg + m[1]
		s := all[name]
		if s == nil {
			s = &stats{}
			all[name] = s
			*names = append(*names, name)
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseFloat(m[3], 64)
		a, _ := strconv.ParseFloat(m[4], 64)
		s.ns, s.bytes, s.allocs = append(s.ns, ns), append(s.bytes, b), append(s.allocs, a)
	}
}

// pair is one target: wrapped over bare.
type pair struct {
	what, wrapped, bare string
	maxRatio, maxAllocs float64
}

var pairs = []pair{
	{"authorize, handler reads `r.URL.Query()`", "BenchmarkAuthorizeShape/query/wrapped", "BenchmarkAuthorizeShape/query/bare", 1.25, 6},
	{"authorize, handler reads `r.FormValue`", "BenchmarkAuthorizeShape/formvalue/wrapped", "BenchmarkAuthorizeShape/formvalue/bare", 1.25, 6},
	{"token, handler reads `r.ParseForm` + `r.PostForm`", "BenchmarkTokenShape/postform/wrapped", "BenchmarkTokenShape/postform/bare", 1.15, 2},
	{"token, handler reads `r.FormValue`", "BenchmarkTokenShape/formvalue/wrapped", "BenchmarkTokenShape/formvalue/bare", 1.15, 2},
}

func write(w io.Writer, all map[string]*stats, names []string) {
	rounds := 0
	for _, s := range all {
		rounds = max(rounds, len(s.ns))
	}
	fmt.Fprintf(w, "Samples per benchmark: %d (one per interleaved round). Verdicts compare the fastest samples\n", rounds)
	fmt.Fprintln(w, "of each side (the rounds least disturbed by other work on the machine); the medians are shown too.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | bare ns/op | wrapped ns/op | ratio (medians) | ratio (fastest) | allocs bare → wrapped | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
	for _, p := range pairs {
		wr, ba := all[p.wrapped], all[p.bare]
		if wr == nil || ba == nil {
			continue
		}
		ratio, fast := wr.med()/ba.med(), wr.fastest()/ba.fastest()
		da := median(wr.allocs) - median(ba.allocs)
		fmt.Fprintf(w, "| %s: ≤ ×%.2f, ≤ +%.0f allocs | %s | %s | ×%.2f | ×%.2f | %.0f → %.0f (%+.0f) | %s |\n",
			p.what, p.maxRatio, p.maxAllocs, num(ba.med()), num(wr.med()), ratio, fast,
			median(ba.allocs), median(wr.allocs), da, verdict(fast <= p.maxRatio, da <= p.maxAllocs))
	}
	ourB, ourW := all["bench.BenchmarkFlow/go-pkce/bare"], all["bench.BenchmarkFlow/go-pkce/wrapped"]
	fosB, fosW := all["bench.BenchmarkFlow/fosite/without-pkce"], all["bench.BenchmarkFlow/fosite/with-pkce"]
	if ourB != nil && ourW != nil && fosB != nil && fosW != nil {
		ours, theirs := ourW.med()-ourB.med(), fosW.med()-fosB.med()
		oursF, theirsF := ourW.fastest()-ourB.fastest(), fosW.fastest()-fosB.fastest()
		fmt.Fprintf(w, "| PKCE per flow ≤ 0.8× fosite's: go-pkce wrapped − bare vs fosite with − without PKCE | fosite %s | go-pkce %s | ×%.2f | ×%.2f | fosite %+.0f, go-pkce %+.0f | %s |\n",
			num(theirs), num(ours), ours/theirs, oursF/theirsF,
			median(fosW.allocs)-median(fosB.allocs), median(ourW.allocs)-median(ourB.allocs), flowVerdict(oursF, theirsF))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | median ns/op | fastest ns/op | B/op | allocs/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, n := range names {
		s := all[n]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f |\n", n, num(s.med()), num(s.fastest()), num(median(s.bytes)), median(s.allocs))
	}
}

// flowVerdict judges go-pkce's cost per flow against fosite's, both from
// the fastest samples.
func flowVerdict(ours, theirs float64) string {
	switch {
	case theirs <= 0:
		return "no verdict: fosite's difference is within the noise"
	case ours <= 0:
		return "met (go-pkce's difference is within the noise)"
	}
	return verdict(ours/theirs <= 0.8)
}

// verdict is "met" when every ok holds.
func verdict(ok ...bool) string {
	for _, o := range ok {
		if !o {
			return "**missed**"
		}
	}
	return "met"
}

// num formats n with thousands separators.
func num(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
